"""Compressed DICOM pixel data: each transfer syntax decodes like the original.

The tests write one small 12- or 16-bit radiograph as an uncompressed DICOM
and again in each compressed transfer syntax seen in chest X-ray sets (RLE
Lossless, JPEG Lossless Process 14 and SV1, JPEG-LS Lossless, JPEG 2000
Lossless, JPEG Baseline), then check that ``read_gray`` gives the same image
from both, and that the decoders of requirements/runtime.txt alone (the
pylibjpeg plug-ins) decode it. pydicom encodes RLE itself, JPEG 2000 through
pylibjpeg-openjpeg and JPEG-LS through pyjpegls (requirements/tests.txt). It
has no JPEG Lossless encoder, so ``jpeg_lossless`` below writes one from ITU-T
T.81 (Annex H, with the marker layout of Annex B).
"""
import sys

import cv2
import numpy as np
import pytest
from pydicom import uid

from fx_mm.datasets.image_io import ImageReadError, read_gray


# --- A JPEG Lossless (Process 14) encoder, after ITU-T T.81 ---------------

def _category(diff: int) -> int:
    """SSSS of a prediction difference: its magnitude's bit length (H.1.2.2).

    Category 16 holds only the difference 32768, which has no extra bits.
    """
    return abs(diff).bit_length()


def _predict(ra, rb, rc, predictor: int):
    """The prediction of T.81 Table H.1 from left (Ra), above (Rb) and
    above-left (Rc) neighbours, for whole arrays of them at once.

    Arithmetic is on int64 (with arithmetic right shifts, as H.1.2.1 asks)
    so 16-bit sums cannot wrap before the difference is taken modulo 2**16.
    """
    return {1: lambda: ra,
            2: lambda: rb,
            3: lambda: rc,
            4: lambda: ra + rb - rc,
            5: lambda: ra + ((rb - rc) >> 1),
            6: lambda: rb + ((ra - rc) >> 1),
            7: lambda: (ra + rb) >> 1}[predictor]()


def _differences(pixels: np.ndarray, precision: int,
                 predictor: int) -> np.ndarray:
    """Prediction differences in scan order, modulo 2**16 into
    -32767..32768 (H.1.2.1 and H.1.2.2; no point transform, no restarts).
    """
    x = pixels.astype(np.int64)
    rows, cols = x.shape
    pred = np.empty_like(x)
    # The first sample of the scan is predicted by the middle of the range,
    # the rest of the first line by its left neighbour and the first column
    # of later lines by the sample above; everywhere else the selected
    # predictor applies.
    pred[0, 0] = 1 << (precision - 1)
    pred[0, 1:] = x[0, :-1]
    pred[1:, 0] = x[:-1, 0]
    if rows > 1 and cols > 1:
        pred[1:, 1:] = _predict(x[1:, :-1], x[:-1, 1:], x[:-1, :-1], predictor)
    diff = (x - pred) % 65536
    diff[diff > 32768] -= 65536
    return diff.ravel()


# Code lengths handed out to the 17 categories by how often each occurs.
# Kraft sum 7/8 - 2**-15 < 1, so the canonical codes never include the
# all-ones code that T.81 (C.2, K.2) reserves.
_CODE_LENGTHS = (2, 3, 3, 3, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)


def _huffman_table(diffs: np.ndarray) -> tuple[bytes, dict]:
    """A DHT segment body (class 0, table 0) and {category: (code, length)}.

    Codes are canonical (T.81 Annex C): by length, then by the order of the
    categories in HUFFVAL.
    """
    cats = [_category(int(d)) for d in diffs]
    counts = np.bincount(cats, minlength=17)
    # The most frequent category gets the shortest code; ties by category.
    order = sorted(range(17), key=lambda c: (-counts[c], c))
    length_of = dict(zip(order, _CODE_LENGTHS))
    huffval = sorted(range(17), key=lambda c: (length_of[c], order.index(c)))
    bits = [sum(1 for c in huffval if length_of[c] == n) for n in range(1, 17)]
    codes, code, previous_length = {}, 0, length_of[huffval[0]]
    for cat in huffval:
        code <<= length_of[cat] - previous_length
        previous_length = length_of[cat]
        codes[cat] = (code, previous_length)
        code += 1
    return bytes([0x00] + bits + huffval), codes


def _segment(marker: int, body: bytes) -> bytes:
    """A marker segment: FF xx, then a length that counts itself."""
    return bytes([0xFF, marker]) + (len(body) + 2).to_bytes(2, 'big') + body


def jpeg_lossless(pixels: np.ndarray, precision: int, predictor: int = 1
                  ) -> bytes:
    """Encode one grayscale frame as a JPEG Lossless (SOF3, Huffman) stream.

    Args:
        pixels (np.ndarray): (rows, cols) unsigned integers below
            2**precision.
        precision (int): Sample precision P, 2 to 16 (BitsStored in DICOM).
        predictor (int): Selection value 1-7 (T.81 Table H.1); 1 is the
            only one DICOM's "SV1" syntax (.4.70) allows.

    Returns:
        bytes: SOI ... EOI.
    """
    rows, cols = pixels.shape
    diffs = _differences(pixels, precision, predictor)
    dht, codes = _huffman_table(diffs)
    # Entropy-coded segment: the category's code, then for a non-zero
    # category SSSS extra bits -- the low SSSS bits of the difference, or of
    # the difference minus one when it is negative (F.1.2.1.1, H.1.2.2).
    acc, nbits, out = 0, 0, bytearray()
    for diff in diffs.tolist():
        cat = _category(diff)
        code, length = codes[cat]
        acc, nbits = (acc << length) | code, nbits + length
        if 0 < cat < 16:
            extra = diff if diff > 0 else diff - 1
            acc, nbits = (acc << cat) | (extra & ((1 << cat) - 1)), nbits + cat
        while nbits >= 8:
            nbits -= 8
            byte = (acc >> nbits) & 0xFF
            out.append(byte)
            if byte == 0xFF:  # byte stuffing (B.1.1.5)
                out.append(0x00)
        acc &= (1 << nbits) - 1
    if nbits:  # pad the last byte with 1-bits (F.1.2.3)
        byte = ((acc << (8 - nbits)) | ((1 << (8 - nbits)) - 1)) & 0xFF
        out.append(byte)
        if byte == 0xFF:
            out.append(0x00)
    # SOF3: P, Y, X, one component (id 1, sampling 1x1, no quant table).
    sof3 = bytes([precision]) + rows.to_bytes(2, 'big') + \
        cols.to_bytes(2, 'big') + bytes([1, 1, 0x11, 0])
    # SOS: one component with DC table 0; Ss = predictor, Se = 0, Ah/Al = 0.
    sos = bytes([1, 1, 0x00, predictor, 0, 0])
    return (b'\xff\xd8' + _segment(0xC3, sof3) + _segment(0xC4, dht) +
            _segment(0xDA, sos) + bytes(out) + b'\xff\xd9')


# --- Writing the DICOM files ----------------------------------------------

def _dataset(pixels: np.ndarray, bits_stored: int, photometric: str):
    """An uncompressed (Explicit VR Little Endian) radiograph data set."""
    from pydicom.dataset import Dataset, FileMetaDataset
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = '1.2.840.10008.5.1.4.1.1.1'  # CR image
    meta.MediaStorageSOPInstanceUID = uid.generate_uid()
    meta.TransferSyntaxUID = uid.ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = 'CR'
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, photometric
    ds.BitsAllocated = 8 if bits_stored == 8 else 16
    ds.BitsStored, ds.HighBit = bits_stored, bits_stored - 1
    ds.PixelRepresentation = 0
    dtype = np.uint8 if bits_stored == 8 else np.uint16
    ds.PixelData = pixels.astype(dtype).tobytes()
    return ds


def _encapsulate(ds, syntax, frame: bytes) -> None:
    """Put one encoded frame into ``ds`` as encapsulated pixel data."""
    from pydicom.encaps import encapsulate
    ds.file_meta.TransferSyntaxUID = syntax
    ds.PixelData = encapsulate([frame])
    ds['PixelData'].VR = 'OB'
    ds['PixelData'].is_undefined_length = True


def _compress(ds, syntax, pixels: np.ndarray) -> None:
    """Re-encode ``ds`` in the compressed transfer syntax ``syntax``."""
    if syntax == uid.RLELossless:
        ds.compress(syntax, encoding_plugin='pydicom')
    elif syntax == uid.JPEG2000Lossless:
        ds.compress(syntax, encoding_plugin='pylibjpeg')
    elif syntax == uid.JPEGLSLossless:
        ds.compress(syntax, encoding_plugin='pyjpegls')
    elif syntax in (uid.JPEGLosslessSV1, uid.JPEGLossless):
        # .70 allows only predictor 1; under .57 take 7 (the average of
        # left and above), which exercises the other prediction path.
        predictor = 1 if syntax == uid.JPEGLosslessSV1 else 7
        _encapsulate(ds, syntax,
                     jpeg_lossless(pixels, ds.BitsStored, predictor))
    else:
        raise AssertionError(f'no encoder in this test for {syntax.name}')


def _radiograph(bits: int) -> np.ndarray:
    """A small chest-like test image: a smooth body, noise, both extremes.

    Odd width and height catch row-stride and padding mistakes; both are
    over 32 pixels, the least OpenJPEG's default six resolution levels
    accept. The fixed seed keeps the encoded streams the same on each run.
    """
    rows, cols, top = 45, 67, (1 << bits) - 1
    yy, xx = np.mgrid[0:rows, 0:cols]
    body = np.exp(-(((xx - cols / 2) / (cols / 3)) ** 2 +
                    ((yy - rows / 2) / (rows / 2.5)) ** 2))
    noise = np.random.default_rng(9).normal(0, 0.03, (rows, cols))
    img = np.clip(np.round((0.15 + 0.7 * body + noise) * top), 0, top)
    img = img.astype(np.int64)
    img[0, 0], img[-1, -1] = 0, top
    if bits == 16:
        # Steps of exactly 2**15 (difference category 16, which has no extra
        # bits) and of 2**16 - 1 (which wraps modulo 2**16) in JPEG Lossless.
        img[5, 3:7] = [0, 32768, 0, 65535]
    return img.astype(np.uint16)


LOSSLESS = [uid.RLELossless, uid.JPEGLosslessSV1, uid.JPEGLossless,
            uid.JPEGLSLossless, uid.JPEG2000Lossless]
VARIANTS = [(12, 'MONOCHROME2'), (16, 'MONOCHROME2'), (12, 'MONOCHROME1')]


@pytest.mark.parametrize('bits,photometric', VARIANTS,
                         ids=[f'{b}bit-{p}' for b, p in VARIANTS])
@pytest.mark.parametrize('syntax', LOSSLESS, ids=lambda s: s.keyword)
def test_lossless_syntax_reads_like_uncompressed(tmp_path, syntax, bits,
                                                 photometric):
    import pydicom
    from pydicom.pixels import pixel_array
    pixels = _radiograph(bits)
    raw, packed = str(tmp_path / 'raw.dcm'), str(tmp_path / 'packed.dcm')
    _dataset(pixels, bits, photometric).save_as(raw, enforce_file_format=True)
    ds = _dataset(pixels, bits, photometric)
    _compress(ds, syntax, pixels)
    ds.save_as(packed, enforce_file_format=True)
    assert pydicom.dcmread(packed).file_meta.TransferSyntaxUID == syntax

    expected = read_gray(raw)
    assert expected.min() == 0 and expected.max() == 255
    np.testing.assert_array_equal(read_gray(packed), expected)
    # Lossless means the stored values too, not only after 8-bit scaling;
    # and the pylibjpeg plug-ins of requirements/runtime.txt alone must do it
    # (pyjpegls and Pillow, also installed here, decode some syntaxes too).
    np.testing.assert_array_equal(
        pixel_array(packed, decoding_plugin='pylibjpeg'), pixels)


def test_jpeg_baseline_reads_like_its_jpeg(tmp_path):
    """JPEG Baseline (.4.50), 8-bit, as in the SIIM-ACR pneumothorax set.

    It is lossy, so the reference is the same JPEG stream decoded by OpenCV;
    libjpeg and libjpeg-turbo may round the inverse DCT differently by one.
    """
    from pydicom.pixels import pixel_array
    pixels = (_radiograph(12) >> 4).astype(np.uint8)
    ok, jpeg = cv2.imencode('.jpg', pixels, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    ds = _dataset(pixels, 8, 'MONOCHROME2')
    _encapsulate(ds, uid.JPEGBaseline8Bit, jpeg.tobytes())
    path = str(tmp_path / 'baseline.dcm')
    ds.save_as(path, enforce_file_format=True)
    reference = cv2.imdecode(jpeg, cv2.IMREAD_GRAYSCALE).astype(int)
    assert np.abs(read_gray(path).astype(int) - reference).max() <= 1
    decoded = pixel_array(path, decoding_plugin='pylibjpeg').astype(int)
    assert np.abs(decoded - reference).max() <= 1


# --- Clear errors ----------------------------------------------------------

def _write_jpeg_lossless(path: str, syntax=uid.JPEGLosslessSV1) -> None:
    pixels = _radiograph(12)
    ds = _dataset(pixels, 12, 'MONOCHROME2')
    _compress(ds, syntax, pixels)
    ds.save_as(path, enforce_file_format=True)


@pytest.mark.parametrize('syntax', [uid.JPEGLosslessSV1, uid.JPEGLossless],
                         ids=lambda s: s.keyword)
def test_missing_decoder_names_file_syntax_and_package(tmp_path, monkeypatch,
                                                       syntax):
    """As on a machine without pylibjpeg-libjpeg (and without gdcm)."""
    import pydicom
    from pydicom.pixels.decoders import base
    path = str(tmp_path / 'lossless.dcm')
    _write_jpeg_lossless(path, syntax)
    # pydicom looks its plug-ins' libraries up when a decoder is built;
    # hiding the modules and building the decoder afresh, with the same two
    # plug-ins pydicom registers for JPEG Lossless, gives the decoder such a
    # machine has.
    monkeypatch.setitem(sys.modules, 'libjpeg', None)
    monkeypatch.setitem(sys.modules, 'gdcm', None)
    decoder = base.Decoder(syntax)
    decoder.add_plugins([
        ('gdcm', ('pydicom.pixels.decoders.gdcm', '_decode_frame')),
        ('pylibjpeg', ('pydicom.pixels.decoders.pylibjpeg', '_decode_frame')),
    ])
    assert not decoder.is_available
    monkeypatch.setitem(base._PIXEL_DATA_DECODERS, syntax, (decoder, '3.0'))
    with pytest.raises(RuntimeError):  # pydicom itself cannot decode it now
        pydicom.dcmread(path).pixel_array

    with pytest.raises(ImageReadError) as err:
        read_gray(path)
    message = str(err.value)
    assert message.startswith(path + ': ')
    assert str(syntax) in message and syntax.name in message
    assert 'pip install pylibjpeg pylibjpeg-libjpeg' in message

    # A syntax missing from fx_mm's table of packages: pydicom's own list.
    from fx_mm.datasets import image_io
    monkeypatch.delitem(image_io.DICOM_DECODER_PACKAGES, str(syntax))
    with pytest.raises(ImageReadError, match='pylibjpeg - requires '):
        read_gray(path)


@pytest.mark.parametrize('syntax,name', [
    ('1.2.840.10008.1.2.4.100', 'MPEG2 Main Profile / Main Level'),
    ('1.2.826.0.1.3680043.2.1143.99', 'not a transfer syntax pydicom knows'),
])
def test_syntax_without_any_decoder_is_named(tmp_path, syntax, name):
    pixels = _radiograph(12)
    ds = _dataset(pixels, 12, 'MONOCHROME2')
    # Contents that no decoder would take: the syntax alone must stop it.
    _encapsulate(ds, uid.UID(syntax), b'\x00' * 64)
    path = str(tmp_path / 'odd.dcm')
    # pydicom needs the encoding spelled out for a syntax it does not know.
    ds.save_as(path, enforce_file_format=True, implicit_vr=False,
               little_endian=True)
    with pytest.raises(ImageReadError) as err:
        read_gray(path)
    message = str(err.value)
    assert message.startswith(path + ': ')
    assert f'{syntax} ({name})' in message
    assert 'pydicom has no decoder' in message


def test_corrupt_compressed_data_names_file_and_syntax(tmp_path):
    import pydicom
    path = str(tmp_path / 'cut.dcm')
    _write_jpeg_lossless(path)
    ds = pydicom.dcmread(path)
    from pydicom.encaps import encapsulate, generate_fragments
    frame = b''.join(generate_fragments(ds.PixelData))
    # Keep the headers, lose the entropy-coded data and the end marker.
    ds.PixelData = encapsulate([frame[:frame.index(b'\xff\xda') + 10]])
    ds.save_as(path, enforce_file_format=True)
    with pytest.raises(ImageReadError) as err:
        read_gray(path)
    message = str(err.value)
    assert message.startswith(path + ': not a readable DICOM image')
    assert f'{uid.JPEGLosslessSV1} ({uid.JPEGLosslessSV1.name})' in message
