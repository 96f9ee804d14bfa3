"""ehqa: Early Help Assessment episodes with timeliness, drift and audit quality first-class."""
