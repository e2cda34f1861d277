"""Evidence (证据): snapshots, recording segments, photos and clips, tied to the audit chain."""
