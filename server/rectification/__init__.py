"""Rectification (补齐补正): failed rectifiable items put right by the applicant, checked online."""
