"""The live call (视频踏勘): wires ``signaling`` to the server's auth, cases and audit."""
