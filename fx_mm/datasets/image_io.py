"""Read chest radiographs (PNG, JPEG, 16-bit PNG, DICOM, MHA) as 8-bit images."""
import os.path as osp

import cv2
import numpy as np

DICOM_SUFFIXES = ('.dcm', '.dicom')


class ImageReadError(ValueError):
    """A file could not be read as a radiograph; the message names the file."""


def to_uint8(pixels: np.ndarray, path: str = '?') -> np.ndarray:
    """Scale a grayscale array of any bit depth to uint8.

    8-bit data are kept as they are. Deeper data (12- or 16-bit PNG, DICOM
    after its LUTs) are stretched min-max: their stored range varies by
    scanner, so a fixed divisor would leave many images nearly black.

    Raises:
        ImageReadError: If the array is empty or not finite.
    """
    if pixels.size == 0:
        raise ImageReadError(f'{path}: image has no pixels.')
    if pixels.dtype == np.uint8:
        return pixels
    pixels = pixels.astype(np.float64)
    if not np.isfinite(pixels).all():
        raise ImageReadError(f'{path}: image has NaN or infinite pixels.')
    low, high = float(pixels.min()), float(pixels.max())
    if high <= low:
        return np.zeros(pixels.shape, np.uint8)
    return np.round((pixels - low) / (high - low) * 255).astype(np.uint8)


# pip packages that give pydicom a decoder for each compressed transfer
# syntax, as fx_mm installs them (requirements/runtime.txt). pydicom's own
# hint (Decoder.missing_dependencies) names import names such as "libjpeg",
# which are not what one installs.
_LIBJPEG = 'pylibjpeg pylibjpeg-libjpeg'
_OPENJPEG = 'pylibjpeg pylibjpeg-openjpeg'
DICOM_DECODER_PACKAGES = {
    '1.2.840.10008.1.2.4.50': _LIBJPEG,  # JPEG Baseline (Process 1)
    '1.2.840.10008.1.2.4.51': _LIBJPEG,  # JPEG Extended (Process 2 and 4)
    '1.2.840.10008.1.2.4.57': _LIBJPEG,  # JPEG Lossless (Process 14)
    '1.2.840.10008.1.2.4.70': _LIBJPEG,  # JPEG Lossless, SV1
    '1.2.840.10008.1.2.4.80': _LIBJPEG,  # JPEG-LS Lossless
    '1.2.840.10008.1.2.4.81': _LIBJPEG,  # JPEG-LS Near-Lossless
    '1.2.840.10008.1.2.4.90': _OPENJPEG,  # JPEG 2000 Lossless Only
    '1.2.840.10008.1.2.4.91': _OPENJPEG,  # JPEG 2000
    '1.2.840.10008.1.2.4.201': _OPENJPEG,  # HTJ2K Lossless
    '1.2.840.10008.1.2.4.202': _OPENJPEG,  # HTJ2K Lossless RPCL
    '1.2.840.10008.1.2.4.203': _OPENJPEG,  # HTJ2K
    # pydicom decodes RLE itself; pylibjpeg-rle only makes it faster.
    '1.2.840.10008.1.2.5': 'pylibjpeg pylibjpeg-rle',
}


def _syntax_text(syntax) -> str:
    """``'UID (name)'`` of a transfer syntax, for error messages."""
    name = getattr(syntax, 'name', '')
    return f'{syntax} ({name})' if name and name != str(syntax) else \
        f'{syntax} (not a transfer syntax pydicom knows)'


def _check_dicom_decodable(path: str, syntax) -> None:
    """Refuse a DICOM whose compressed pixel data no installed plug-in decodes.

    pydicom's own error for this case lists its plug-ins by import name and
    does not say which file it was reading; a data-prep run over thousands
    of files needs the file, the syntax and the pip package in one line.

    Args:
        path (str): The file, for the message.
        syntax (pydicom.uid.UID): Its transfer syntax.

    Raises:
        ImageReadError: If pydicom has no decoder for the syntax, or none of
            its plug-ins for it is installed.
    """
    from pydicom.pixels import get_decoder
    # Native syntaxes (and deflated, which pydicom inflates on reading) need
    # no plug-in.
    if syntax.is_transfer_syntax and not syntax.is_compressed:
        return
    try:
        decoder = get_decoder(syntax)
    except NotImplementedError:
        raise ImageReadError(
            f'{path}: DICOM pixel data in transfer syntax '
            f'{_syntax_text(syntax)} cannot be decoded: pydicom has no '
            'decoder for it; convert the file to an uncompressed syntax '
            '(e.g. gdcmconv --raw, or dcmdjpeg / dcmdrle) first.') from None
    if not decoder.is_available:
        if str(syntax) in DICOM_DECODER_PACKAGES:
            hint = f'pip install {DICOM_DECODER_PACKAGES[str(syntax)]}'
        else:
            # A syntax pydicom learnt after this table was written: pass on
            # pydicom's own list of what its plug-ins for it would need.
            hint = ("install what one of pydicom's plug-ins for it needs ("
                    + '; '.join(decoder.missing_dependencies) + ')')
        raise ImageReadError(
            f'{path}: DICOM pixel data in transfer syntax '
            f'{_syntax_text(syntax)} cannot be decoded: no decoder plug-in '
            f'for it is installed; {hint} (fx_mm lists its decoders in '
            'requirements/runtime.txt, which make install installs).')


def read_dicom(path: str) -> np.ndarray:
    """Pixels of a DICOM radiograph, as displayed, in uint8.

    Decodes uncompressed and compressed pixel data: RLE Lossless with
    pydicom alone; JPEG (baseline, extended, lossless), JPEG-LS and
    JPEG 2000 with the pylibjpeg plug-ins of requirements/runtime.txt,
    which pydicom finds by itself once installed. Then applies the
    modality LUT (rescale slope / intercept), the VOI LUT or window
    centre / width when the file has one, and inverts MONOCHROME1 (where
    high values are dark), so bone is bright in every output.

    Raises:
        ImageReadError: If the file is not a readable DICOM image; for
            compressed pixel data the message names the transfer syntax
            and, when no decoder is installed, the package to install.
    """
    import pydicom
    from pydicom.pixels import apply_modality_lut, apply_voi_lut
    try:
        ds = pydicom.dcmread(path)
    except Exception as e:  # pydicom raises many types for bad files
        raise ImageReadError(f'{path}: not a readable DICOM image ({e}).')
    meta = getattr(ds, 'file_meta', None)
    syntax = meta.get('TransferSyntaxUID') if meta is not None else None
    # Without a transfer syntax (no file meta) pydicom guesses a native one
    # from the data set's encoding, or fails below with its own message.
    where = ''
    if syntax is not None and 'PixelData' in ds:
        _check_dicom_decodable(path, syntax)
        where = f' in transfer syntax {_syntax_text(syntax)}'
    try:
        pixels = ds.pixel_array
    except Exception as e:  # and its decoder plug-ins raise more
        raise ImageReadError(
            f'{path}: not a readable DICOM image{where} ({e}).')
    if pixels.ndim != 2:
        raise ImageReadError(
            f'{path}: DICOM pixel data of shape {pixels.shape}; expected one '
            'grayscale frame.')
    pixels = apply_modality_lut(pixels, ds)
    if 'WindowCenter' in ds or 'VOILUTSequence' in ds:
        pixels = apply_voi_lut(pixels, ds)
    pixels = to_uint8(np.asarray(pixels), path)
    if getattr(ds, 'PhotometricInterpretation', '') == 'MONOCHROME1':
        pixels = 255 - pixels
    return pixels


def _check_jpeg_complete(path: str) -> None:
    """Refuse a JPEG without its end-of-image marker.

    libjpeg decodes a truncated JPEG anyway -- the missing rows come out
    grey, with only a "Premature end of JPEG file" warning on stderr -- so
    a cut-off download would pass for an image. In the entropy-coded data a
    0xFF byte is always followed by 0x00 or a restart marker, so FF D9 at
    the end (after optional zero padding) is the end-of-image marker.
    """
    with open(path, 'rb') as f:
        f.seek(0, 2)
        f.seek(max(0, f.tell() - 64))
        tail = f.read().rstrip(b'\x00')
    if not tail.endswith(b'\xff\xd9'):
        raise ImageReadError(f'{path}: truncated JPEG (no end-of-image '
                             'marker).')


def read_gray(path: str) -> np.ndarray:
    """Read a radiograph as an (H, W) uint8 array.

    Args:
        path (str): A PNG (8- or 16-bit), JPEG, DICOM or MHA file.

    Returns:
        np.ndarray: (H, W) uint8.

    Raises:
        ImageReadError: If the file is missing, corrupt or not an image.
    """
    if not osp.isfile(path):
        raise ImageReadError(f'{path}: no such file.')
    suffix = osp.splitext(path)[1].lower()
    if suffix in DICOM_SUFFIXES:
        return read_dicom(path)
    if suffix in ('.mha', '.mhd'):
        return read_mha(path)
    if suffix in ('.jpg', '.jpeg'):
        _check_jpeg_complete(path)
    pixels = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if pixels is None:
        raise ImageReadError(f'{path}: not a readable image (corrupt, '
                             'truncated or an unsupported format).')
    if pixels.ndim == 3:
        if pixels.shape[2] == 4:
            pixels = pixels[..., :3]
        pixels = cv2.cvtColor(pixels, cv2.COLOR_BGR2GRAY) if \
            pixels.dtype == np.uint8 else pixels.mean(axis=2)
    if pixels.dtype not in (np.uint8, np.uint16, np.float32, np.float64):
        raise ImageReadError(f'{path}: unsupported pixel type {pixels.dtype}.')
    return to_uint8(pixels, path)


def read_mha(path: str) -> np.ndarray:
    """Read a 2-D MetaImage (.mha with its data inline), as NODE21 ships.

    Raises:
        ImageReadError: On a header or data size that does not fit.
    """
    with open(path, 'rb') as f:
        raw = f.read()
    header, offset = {}, 0
    while True:
        end = raw.find(b'\n', offset)
        if end < 0:
            raise ImageReadError(f'{path}: MetaImage header has no ElementDataFile.')
        key, _, value = raw[offset:end].decode('latin1').partition('=')
        header[key.strip()] = value.strip()
        offset = end + 1
        if key.strip() == 'ElementDataFile':
            break
    if header['ElementDataFile'] != 'LOCAL':
        raise ImageReadError(f'{path}: only inline (LOCAL) MetaImage data is '
                             'supported.')
    dims = [int(v) for v in header.get('DimSize', '').split()]
    types = {'MET_UCHAR': np.uint8, 'MET_USHORT': np.uint16,
             'MET_SHORT': np.int16, 'MET_FLOAT': np.float32,
             'MET_UINT': np.uint32, 'MET_INT': np.int32}
    dtype = types.get(header.get('ElementType'))
    if dtype is None or len(dims) < 2:
        raise ImageReadError(f'{path}: unsupported MetaImage header {header}.')
    if header.get('CompressedData', 'False').lower() == 'true':
        import zlib
        data = zlib.decompress(raw[offset:])
    else:
        data = raw[offset:]
    order = '>' if header.get('BinaryDataByteOrderMSB', 'False').lower() \
        == 'true' else '<'
    count = int(np.prod(dims))
    itemsize = np.dtype(dtype).itemsize
    if len(data) < count * itemsize:
        raise ImageReadError(f'{path}: MetaImage data has {len(data)} bytes, '
                             f'header {dims} of {header["ElementType"]} needs '
                             f'{count * itemsize}.')
    pixels = np.frombuffer(data[:count * itemsize],
                           dtype=np.dtype(dtype).newbyteorder(order))
    # MetaImage stores x fastest: (z,) y, x.
    pixels = pixels.reshape(dims[::-1])
    if pixels.ndim == 3:
        pixels = pixels[0]
    return to_uint8(pixels.astype(np.float64), path)
