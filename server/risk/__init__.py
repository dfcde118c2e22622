"""Risk scoring: feature building from recorded data, model versions, stored scores."""
