"""warnings."""
