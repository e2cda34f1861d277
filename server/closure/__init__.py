"""Closure (办结): the licensing decision taken on the issued opinion closes the case."""
