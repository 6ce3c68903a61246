"""The pages, one module per role."""
