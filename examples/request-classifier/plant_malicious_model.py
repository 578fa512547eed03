"""Plant a malicious "pretrained" model in the example, for the model-scan stage to catch.

Writes ``models/encoder-finetuned.bin``: a PyTorch-style zip checkpoint whose ``data.pkl`` would
call ``os.system`` the moment anyone ran ``torch.load`` on it. The pickle is written opcode by
opcode; nothing here ever loads it, and neither does secpipe (it simulates the pickle machine).
The command it names only echoes a line, so even a careless load would do no harm.

    python plant_malicious_model.py          # then: secpipe run mlsecops
"""

from __future__ import annotations

import argparse
import zipfile
from pathlib import Path

PROTO, STOP, MARK, TUPLE, REDUCE = b"\x80\x02", b".", b"(", b"t", b"R"
EMPTY_DICT, SETITEMS = b"}", b"u"


def _global(module: str, name: str) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def _unicode(text: str) -> bytes:
    data = text.encode()
    return b"X" + len(data).to_bytes(4, "little") + data


def payload_pickle() -> bytes:
    """A state dict ``{"weight": os.system(...)}``: the call runs during unpickling."""
    call = _global("posix", "system") + MARK + _unicode("echo planted-model-payload") + TUPLE
    return PROTO + EMPTY_DICT + MARK + _unicode("weight") + call + REDUCE + SETITEMS + STOP


def plant(root: Path) -> Path:
    target = root / "models" / "encoder-finetuned.bin"
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w") as zf:
        zf.writestr("encoder-finetuned/data.pkl", payload_pickle())
        zf.writestr("encoder-finetuned/version", "3\n")
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).parent)
    print(f"planted {plant(parser.parse_args().root)}")


if __name__ == "__main__":
    main()
