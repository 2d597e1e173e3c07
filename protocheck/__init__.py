"""protocheck: standardized multicentre MRI protocol validator for ALS trials."""

__version__ = "0.1.0"

# Set by the command line's entry point (cli.entry_point): pydicom is then imported without NumPy, which only its
# pixel handlers use (sources/dicom/_pydicom.py); a program importing protocheck as a library keeps it whole.
LEAN_PYDICOM = False
