"""Reading radiographs: 8/16-bit PNG, DICOM (LUTs, MONOCHROME1), MHA, errors."""
import cv2
import numpy as np
import pytest

from fx_mm.datasets.image_io import ImageReadError, read_gray


def test_16_bit_png_is_stretched_to_8_bit(tmp_path):
    img = np.zeros((8, 8), np.uint16)
    img[:, 4:] = 4095  # 12-bit data in a 16-bit file
    img[0, 0] = 1000
    path = str(tmp_path / 'x.png')
    cv2.imwrite(path, img)
    out = read_gray(path)
    assert out.dtype == np.uint8
    assert out[0, 4] == 255 and out[1, 0] == 0
    assert out[0, 0] == round(1000 / 4095 * 255)


def _write_dicom(path, pixels, photometric='MONOCHROME2', slope=1.0,
                 intercept=0.0):
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = '1.2.840.10008.5.1.4.1.1.1'
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, \
        meta.MediaStorageSOPInstanceUID
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, photometric
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 12, 11
    ds.PixelRepresentation = 0
    ds.RescaleSlope, ds.RescaleIntercept = slope, intercept
    ds.PixelData = pixels.astype(np.uint16).tobytes()
    ds.save_as(path, enforce_file_format=True)


def test_dicom_monochrome1_is_inverted(tmp_path):
    pixels = np.tile(np.arange(0, 4000, 500, dtype=np.uint16), (4, 1))
    mono2, mono1 = str(tmp_path / 'a.dcm'), str(tmp_path / 'b.dcm')
    _write_dicom(mono2, pixels)
    _write_dicom(mono1, pixels, photometric='MONOCHROME1')
    a, b = read_gray(mono2), read_gray(mono1)
    assert a[0, 0] == 0 and a[0, -1] == 255
    np.testing.assert_array_equal(b, 255 - a)


def test_dicom_rescale_is_applied_before_scaling(tmp_path):
    pixels = np.array([[0, 100], [200, 300]], np.uint16)
    path = str(tmp_path / 'r.dcm')
    _write_dicom(path, pixels, slope=2.0, intercept=-1024.0)
    out = read_gray(path)
    # a linear rescale keeps the min-max stretched image the same
    np.testing.assert_array_equal(out, [[0, 85], [170, 255]])


def test_mha_is_read(tmp_path):
    pixels = (np.arange(12, dtype=np.uint16) * 100).reshape(3, 4)
    header = ('ObjectType = Image\nNDims = 2\nDimSize = 4 3\n'
              'ElementType = MET_USHORT\nElementDataFile = LOCAL\n')
    path = tmp_path / 'n.mha'
    path.write_bytes(header.encode() + pixels.astype('<u2').tobytes())
    out = read_gray(str(path))
    assert out.shape == (3, 4)
    assert out[0, 0] == 0 and out[2, 3] == 255


@pytest.mark.parametrize('content', [b'', b'\x89PNG\r\n\x1a\ntruncated',
                                     b'plain text, not an image'])
def test_corrupt_files_are_named(tmp_path, content):
    path = tmp_path / 'bad.png'
    path.write_bytes(content)
    with pytest.raises(ImageReadError, match='bad.png'):
        read_gray(str(path))


def test_missing_file_is_named(tmp_path):
    with pytest.raises(ImageReadError, match='nope.dcm: no such file'):
        read_gray(str(tmp_path / 'nope.dcm'))


def test_truncated_jpeg_is_refused_and_whole_ones_read(tmp_path):
    """libjpeg decodes a cut-off JPEG with grey rows and a mere warning;
    the reader refuses it. A complete JPEG (also with zero padding after
    its end marker) reads."""
    import cv2
    import numpy as np
    img = (np.random.default_rng(0).random((64, 48)) * 255).astype(np.uint8)
    whole = tmp_path / 'whole.jpg'
    cv2.imwrite(str(whole), img)
    data = whole.read_bytes()
    assert read_gray(str(whole)).shape == (64, 48)
    padded = tmp_path / 'padded.jpeg'
    padded.write_bytes(data + b'\x00' * 10)
    assert read_gray(str(padded)).shape == (64, 48)
    cut = tmp_path / 'cut.jpg'
    cut.write_bytes(data[:len(data) // 2])
    assert cv2.imread(str(cut)) is not None  # what libjpeg alone would do
    with pytest.raises(ImageReadError, match='cut.jpg: truncated JPEG'):
        read_gray(str(cut))
