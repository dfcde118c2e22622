"""Photos as the handheld keeps them: downscaled once, with the camera's time and place.

Phone cameras write 4–15 MB JPEGs; the server takes 10 MB per attachment and the
inspector often syncs over a weak mobile signal. So a photo is re-encoded before it is
stored — long side at most :data:`MAX_SIDE` pixels, JPEG quality :data:`JPEG_QUALITY` —
keeping the EXIF record of when and where it was taken (DateTimeOriginal and the GPS
block: the evidence of an on-site inspection) and turning it upright (the orientation
tag is applied, then dropped). The SHA-256 and size of the camera's original are kept
with the attachment, so the stored photo can be traced to the file the camera wrote.

A photo already small enough (a JPEG or PNG within the limits) is kept byte for byte.
Nothing here imports Kivy.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError
from PIL.ExifTags import IFD

__all__ = ["JPEG_QUALITY", "KEEP_AS_IS_BYTES", "MAX_SIDE", "PhotoError", "PreparedPhoto", "prepare_photo"]

MAX_SIDE = 2560
JPEG_QUALITY = 85
#: an upright JPEG/PNG within MAX_SIDE and this size is stored as the camera wrote it
KEEP_AS_IS_BYTES = 4 * 1024 * 1024
#: re-encoded photos above this are encoded again at lower quality (the server's limit is 10 MB)
TARGET_BYTES = 8 * 1024 * 1024
_ORIENTATION = 0x0112


class PhotoError(ValueError):
    """The file is not a photo the handheld can read; ``str()`` is the inspector's message."""


@dataclass(frozen=True)
class PreparedPhoto:
    data: bytes
    suffix: str  # ".jpg" / ".png"
    width: int
    height: int
    original_checksum: str
    original_size: int
    downscaled: bool  # re-encoded (False: the original bytes are kept)


def prepare_photo(original: bytes) -> PreparedPhoto:
    """Return the photo to store for ``original`` (the camera's bytes); raise :class:`PhotoError`."""
    digest = hashlib.sha256(original).hexdigest()
    try:
        image = Image.open(io.BytesIO(original))
        image.load()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, ValueError):
        raise PhotoError("所选文件不是可识别的照片（支持 JPEG、PNG 等格式），请重新拍照或选择照片") from None
    exif = image.getexif()
    upright = exif.get(_ORIENTATION, 1) in (0, 1)
    if (image.format in ("JPEG", "PNG") and upright and max(image.size) <= MAX_SIDE
            and len(original) <= KEEP_AS_IS_BYTES):
        suffix = ".jpg" if image.format == "JPEG" else ".png"
        return PreparedPhoto(original, suffix, image.width, image.height, digest, len(original), False)

    turned = ImageOps.exif_transpose(image)  # applies and drops the orientation tag
    exif = turned.getexif()
    for ifd in (IFD.Exif, IFD.GPSInfo):
        exif.get_ifd(ifd)  # loaded, so that they are written back with the new file
    if turned.mode not in ("RGB", "L"):
        rgba = turned.convert("RGBA")
        turned = Image.new("RGB", rgba.size, (255, 255, 255))
        turned.paste(rgba, mask=rgba.getchannel("A"))
    turned.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    quality = JPEG_QUALITY
    while True:
        out = io.BytesIO()
        turned.save(out, "JPEG", quality=quality, exif=exif, optimize=True)
        data = out.getvalue()
        if len(data) <= TARGET_BYTES or quality <= 60:
            break
        quality -= 10
    return PreparedPhoto(data, ".jpg", turned.width, turned.height, digest, len(original), True)
