"""protocheck: standardized multicentre MRI protocol validator for ALS trials."""

__version__ = "0.1.0"
