"""The three audiences: widget (visitors), operator (panel + API), admin (settings pages)."""
