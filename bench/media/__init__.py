"""The media_rooms benchmark's parts (entry point: ``python -m bench.media_rooms``).

common: the synthetic clip's barcode, loopback ICE, signaling over TCP · publisher: every
phone (a pre-encoded loop) · subscriber: every inspector · servers: ours (media worker pool)
and aiortc's stock path · run: one measured run, CPU of the server's whole process tree ·
analysis: received frames, latency, recordings · report: summary, table, capacity.
"""
