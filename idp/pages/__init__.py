"""The information pages every French public site carries in its footer."""
