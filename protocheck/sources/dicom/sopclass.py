"""The MR SOP classes and transfer syntaxes the readers dispatch on, from ``pydicom.uid`` (one place)."""
from __future__ import annotations

from protocheck.sources.dicom import _pydicom  # noqa: F401  (first: pydicom without requests)
from pydicom import uid

MR_IMAGE: str = uid.MRImageStorage
ENHANCED_MR: str = uid.EnhancedMRImageStorage
ENHANCED_MR_COLOR: str = uid.EnhancedMRColorImageStorage
LEGACY_ENHANCED_MR: str = uid.LegacyConvertedEnhancedMRImageStorage
MR_SPECTROSCOPY: str = uid.MRSpectroscopyStorage
# Enhanced (multi-frame functional groups) MR images: the frames are read by framescan / enhanced.py.
MULTIFRAME_IMAGES = frozenset({ENHANCED_MR, ENHANCED_MR_COLOR, LEGACY_ENHANCED_MR})
MULTIFRAME_SOPS = MULTIFRAME_IMAGES | {MR_SPECTROSCOPY}
SIEMENS_CSA_NON_IMAGE = "1.3.12.2.1107.5.9.1"   # private SOP class: Siemens CSA non-image (spectroscopy...)
STORAGE_PREFIX = "1.2.840.10008.5.1.4.1.1."      # standard composite storage SOP classes (PS3.4 Annex B)
# Transfer syntaxes the hand-rolled scanners leave to pydicom (implicit VR, big endian, deflated).
NOT_PLAIN = frozenset({uid.ImplicitVRLittleEndian, uid.ExplicitVRBigEndian, uid.DeflatedExplicitVRLittleEndian})
