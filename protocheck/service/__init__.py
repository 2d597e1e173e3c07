"""Services above the reports: the DICOM listener and the reports it writes per received study."""
