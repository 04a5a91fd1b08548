"""Small DICOM stand-ins for the converter tests (VinDr-CXR, CheXmask)."""
import struct

import numpy as np


def write_dicom(path, pixels: np.ndarray) -> None:
    """An 8-bit MONOCHROME2 DICOM with a proper file meta, uncompressed."""
    ds = _dataset(pixels.shape)
    ds.file_meta.TransferSyntaxUID = _uid('ExplicitVRLittleEndian')
    ds.PixelData = np.ascontiguousarray(pixels, np.uint8).tobytes()
    _save(ds, path)


def write_flat_dicom(path, height: int, width: int, value: int = 100) -> None:
    """A large constant 8-bit DICOM kept tiny on disk by RLE Lossless.

    A radiograph's real size is needed for its real boxes to fit; RLE stores
    each constant row in a few bytes, so a 3000 x 3000 stand-in costs ~50 kB.
    """
    from pydicom.encaps import encapsulate
    row = bytearray()
    left = width
    while left:  # PackBits: a replicate run of n bytes is (257 - n, value)
        n = min(left, 128)
        row += bytes([0, value]) if n == 1 else bytes([257 - n, value])
        left -= n
    segment = bytes(row) * height
    if len(segment) % 2:
        segment += b'\x00'
    header = struct.pack('<16L', 1, 64, *([0] * 14))
    ds = _dataset((height, width))
    ds.file_meta.TransferSyntaxUID = _uid('RLELossless')
    ds.PixelData = encapsulate([header + segment])
    ds['PixelData'].VR = 'OB'
    ds['PixelData'].is_undefined_length = True
    _save(ds, path)


def _uid(name):
    import pydicom.uid
    return getattr(pydicom.uid, name)


def _dataset(shape):
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import generate_uid
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = '1.2.840.10008.5.1.4.1.1.1'
    meta.MediaStorageSOPInstanceUID = generate_uid()
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Rows, ds.Columns = int(shape[0]), int(shape[1])
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, 'MONOCHROME2'
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
    ds.PixelRepresentation = 0
    return ds


def _save(ds, path):
    try:
        ds.save_as(str(path), enforce_file_format=True)
    except TypeError:  # pydicom < 3
        ds.is_little_endian, ds.is_implicit_VR = True, False
        ds.save_as(str(path), write_like_original=False)
