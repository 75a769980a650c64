"""The orders service: takes orders over HTTP and drives each to exactly one terminal state."""
