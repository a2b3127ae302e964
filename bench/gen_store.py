"""Writes a deterministic synthetic article store of N articles, in the store format, for the benchmark.

    .venv/bin/python bench/gen_store.py 100000 bench/out/store-100000.json

The same N always gives the same bytes. What it holds, and why:

- 50 ministries and agencies and 30 topics, skewed (Zipf-like weights): a few big ministries and topics
  hold most articles, the smallest hold a handful, as in the real portal.
- Each article names 1 to 3 ministries and 1 to 3 topics; its title is ~80 characters and its summary ~400,
  mixing English and Hangul, with ``&``, ``<`` and both quote characters (the escaping paths of every format).
- 10% carry ``content_html`` (about 1 KB, with a little markup nh3 removes); 30% an ``updated``; a few
  corrections and withdrawals; most a ``url`` and a ``source``.
- ``published`` spreads over five years (2020-2024) in +09:00, a quarter of them bare dates. The file lists
  articles in random order, the worst case for the loader's sort.

Streams the file, so a million articles need little memory; writes OUT.tmp and renames it into place.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import sys

SEED = "feedservice-bench-1"
N_MINISTRIES = 50
N_TOPICS = 30
START = dt.datetime(2020, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=9)))
SPAN_SECONDS = 5 * 365 * 86400

REAL_MINISTRIES = [
    ("molit", "Ministry of Land, Infrastructure, and Transport", "https://www.molit.go.kr"),
    ("ngii", "National Geographic Information Institute", "https://www.ngii.go.kr"),
    ("krihs", "Korea Research Institute for Human Settlements", "https://www.krihs.re.kr"),
    ("smart-city-association", "Smart City Association", "https://www.smartcity.or.kr"),
    ("lh", "Korea Land & Housing Corporation", "https://www.lh.or.kr"),
    ("kict", "Korea Institute of Civil Engineering and Building Technology", "https://www.kict.re.kr"),
    ("kotsa", "Korea Transportation Safety Authority", "https://www.kotsa.or.kr"),
    ("kaia", "Korea Agency for Infrastructure Technology Advancement", "https://www.kaia.re.kr"),
    ("lx", "Korea Land and Geospatial InformatiX Corporation", "https://www.lx.or.kr"),
    ("msit", "Ministry of Science and ICT", "https://www.msit.go.kr"),
]
TOPIC_WORDS = [
    "smart-city-policy", "smart-city-projects", "spatial-information", "national-land-planning",
    "overseas-expansion", "smart-construction", "publications-and-media", "digital-twin", "mobility",
    "housing", "urban-regeneration", "autonomous-driving", "drones", "railways", "roads", "aviation",
    "logistics", "water-resources", "climate", "energy", "data-platforms", "standards", "rnd", "safety",
    "startups", "living-labs", "public-services", "procurement", "education", "events",
]
EN_WORDS = (
    "smart city digital twin platform data national land spatial information service pilot project "
    "ministry announced plan support regional government citizens mobility housing infrastructure "
    "construction technology satellite map open api standard agreement cooperation overseas expansion "
    "investment budget program launch results committee framework safety innovation urban regeneration "
    "autonomous vehicles drone delivery railway road logistics energy water climate"
).split()
KO_WORDS = (
    "스마트시티 국토교통부 정책 공간정보 디지털트윈 도시재생 발표 추진 사업 지원 국가 지도 위성 건설 해외진출 "
    "협력 기술 데이터 플랫폼 서비스 시범 지역 주민 교통 주택 기반시설 혁신 안전 예산 위원회"
).split()
# Spots where markup-significant characters appear in running text.
SPICE = ['R&D', 'Q&A', 'x < y', '"Smart City Challenge"', "Korea's", '<draft>', '“K-City”', '&amp;', "'24"]


def _weights(n: int, s: float) -> list[float]:
    return [1 / (rank ** s) for rank in range(1, n + 1)]


def _words(rng: random.Random, target: int) -> str:
    """Returns roughly ``target`` characters of mixed English and Hangul text with a few special characters."""
    out: list[str] = []
    length = 0
    while length < target:
        r = rng.random()
        if r < 0.80:
            w = rng.choice(EN_WORDS)
        elif r < 0.95:
            w = rng.choice(KO_WORDS)
        else:
            w = rng.choice(SPICE)
        out.append(w)
        length += len(w) + 1
    text = " ".join(out)
    return text[0].upper() + text[1:]


def _pick(rng: random.Random, population: list[str], weights: list[float]) -> list[str]:
    """Returns 1 to 3 distinct items drawn by weight."""
    want = rng.choice((1, 1, 2, 2, 3))
    out: list[str] = []
    while len(out) < want:
        item = rng.choices(population, weights)[0]
        if item not in out:
            out.append(item)
    return out


def _stamp(moment: dt.datetime, bare: bool) -> str:
    return moment.date().isoformat() if bare else moment.isoformat()


def _content(rng: random.Random, art_id: str) -> str:
    paras = "".join(f"<p>{_html_escape(_words(rng, 220))}</p>" for _ in range(3))
    items = "".join(f"<li><strong>{_html_escape(_words(rng, 30))}</strong></li>" for _ in range(3))
    extra = '<script>alert("x")</script>' if rng.random() < 0.1 else ""
    return (
        f"{paras}<ul>{items}</ul>{extra}"
        f'<p><a href="https://www.molit.go.kr/news/{art_id}" onclick="track()">원문 보기 (original)</a></p>'
    )


def _html_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def header(rng: random.Random) -> dict:
    ministries = [{"slug": s, "name": n, "homepage": h} for s, n, h in REAL_MINISTRIES]
    for i in range(len(ministries), N_MINISTRIES):
        m = {"slug": f"agency-{i:02d}", "name": f"Regional Agency No. {i} ({rng.choice(KO_WORDS)})"}
        if i % 3:
            m["homepage"] = f"https://agency-{i:02d}.go.kr"
        ministries.append(m)
    topics = [{"slug": s, "name": s.replace("-", " ").title().replace("Rnd", "R&D")} for s in TOPIC_WORDS]
    return {
        "portal": {
            "title": "Smart City Comprehensive Portal",
            "subtitle": "Policy news from the Ministry of Land, Infrastructure and Transport and its partner agencies",
            "base_url": "https://feeds.smartcity.go.kr",
            "tag_authority": "smartcity.go.kr,2025",
            "language": "en",
            "timezone": "+09:00",
            "author": "Smart City Comprehensive Portal",
            "contact": "02-3667-3114",
        },
        "ministries": ministries,
        "topics": topics,
    }


def article(rng: random.Random, i: int, m_slugs: list[str], m_w: list[float], t_slugs: list[str], t_w: list[float]) -> dict:
    published = START + dt.timedelta(seconds=rng.randrange(SPAN_SECONDS))
    bare = rng.random() < 0.25
    if bare:
        published = published.replace(hour=0, minute=0, second=0)
    title = _words(rng, 80)[:80].rstrip()
    slug_words = "-".join(rng.choice(EN_WORDS) for _ in range(3))
    art_id = f"{published.date().isoformat()}-{slug_words}-{i:x}"
    art: dict = {
        "id": art_id,
        "title": title,
        "published": _stamp(published, bare),
    }
    if rng.random() < 0.3:
        art["updated"] = (published + dt.timedelta(hours=rng.randrange(1, 240))).isoformat()
    art["ministries"] = _pick(rng, m_slugs, m_w)
    art["topics"] = _pick(rng, t_slugs, t_w)
    art["summary"] = _words(rng, 400)[:400].rstrip()
    if rng.random() < 0.10:
        art["content_html"] = _content(rng, art_id)
    if rng.random() < 0.9:
        art["url"] = f"https://www.molit.go.kr/USR/NEWS/m_71/dtl.jsp?id={i}&lcmspage=1"
    if rng.random() < 0.8:
        art["source"] = {"newsletter": 1 + i % 60, "date": (published + dt.timedelta(days=7)).date().isoformat()}
    if rng.random() < 0.01:
        art["corrections"] = [{
            "date": (published + dt.timedelta(days=2)).isoformat(),
            "note": "Corrected the budget figure & the agency's name",
        }]
    if rng.random() < 0.005:
        art["withdrawn"] = {"date": (published + dt.timedelta(days=3)).isoformat(), "reason": "Published in error"}
    return art


def write_store(n: int, out: str) -> None:
    """Writes the store of ``n`` articles to ``out`` (via ``out``.tmp and a rename)."""
    rng = random.Random(f"{SEED}:{n}")
    head = header(rng)
    m_slugs = [m["slug"] for m in head["ministries"]]
    t_slugs = [t["slug"] for t in head["topics"]]
    m_w, t_w = _weights(len(m_slugs), 1.1), _weights(len(t_slugs), 1.0)
    tmp = out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        text = json.dumps(head, ensure_ascii=False, indent=1)
        f.write(text[: text.rstrip().rfind("}")].rstrip() + ',\n "articles": [\n')
        for i in range(n):
            if i:
                f.write(",\n")
            f.write(json.dumps(article(rng, i, m_slugs, m_w, t_slugs, t_w), ensure_ascii=False))
        f.write("\n ]\n}\n")
    os.replace(tmp, out)


def main(argv: list[str]) -> int:
    if len(argv) != 3 or not argv[1].isdigit() or int(argv[1]) < 1:
        print("usage: gen_store.py N OUT   (N articles, at least 1)", file=sys.stderr)
        return 2
    n, out = int(argv[1]), argv[2]
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    write_store(n, out)
    print(f"{out}: {n} articles, {os.path.getsize(out):,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
