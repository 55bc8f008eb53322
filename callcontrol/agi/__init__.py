"""FastAGI: our own asyncio protocol code (header block, commands, typed reply errors)."""
