from __future__ import annotations

from conduwuit.http.compression import choose, compressors


def test_choose_respects_quality_and_enabled_set() -> None:
    enabled = compressors(zstd=False, brotli=False, gzip_=True)
    assert choose("gzip, deflate", enabled) == "gzip"
    assert choose("br", enabled) is None
    assert choose("gzip;q=0", enabled) is None
    assert choose("*", enabled) == "gzip"
    assert choose("", enabled) is None
