"""Catalogs behind the Online Retail generator: the profile's figures, products, customers.

Every figure here is the real UCI Online Retail file's (see
`shared/reference/online-retail-profile.md`); the generator scales them. Keeping them in one
place lets a reader check the generator against the profile line by line.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# (country, rows in the real file, distinct customers). Hong Kong and Unspecified rows never
# carry a CustomerID, so they have no customers of their own.
COUNTRIES: tuple[tuple[str, int, int], ...] = (
    ("United Kingdom", 495_478, 3_946), ("Germany", 9_495, 95), ("France", 8_557, 87),
    ("EIRE", 8_196, 3), ("Spain", 2_533, 31), ("Netherlands", 2_371, 9),
    ("Belgium", 2_069, 25), ("Switzerland", 2_002, 21), ("Portugal", 1_519, 19),
    ("Australia", 1_259, 9), ("Norway", 1_086, 10), ("Italy", 803, 15),
    ("Channel Islands", 758, 9), ("Finland", 695, 12), ("Cyprus", 622, 8),
    ("Sweden", 462, 8), ("Unspecified", 446, 0), ("Austria", 401, 11), ("Denmark", 389, 9),
    ("Japan", 358, 8), ("Poland", 341, 6), ("Israel", 297, 4), ("USA", 291, 4),
    ("Hong Kong", 288, 0), ("Singapore", 229, 1), ("Iceland", 182, 1), ("Canada", 151, 4),
    ("Greece", 146, 4), ("Malta", 127, 2), ("United Arab Emirates", 68, 2),
    ("European Community", 61, 1), ("RSA", 58, 1), ("Lebanon", 45, 1), ("Lithuania", 35, 1),
    ("Brazil", 32, 1), ("Czech Republic", 30, 1), ("Bahrain", 19, 2), ("Saudi Arabia", 10, 1),
)
UK, EIRE, CHANNEL_ISLANDS = 0, 3, 12

# Rows per calendar month, 2010-12 .. 2011-12 (December 2011 stops on the 9th).
MONTH_ROWS = (42_481, 35_147, 27_707, 36_748, 29_916, 37_030, 36_874, 39_518, 35_284,
              50_226, 60_742, 84_711, 25_525)
WEEKDAY_ROWS = (95_111, 101_808, 94_565, 103_857, 82_193, 0, 64_375)  # Monday .. Sunday
HOUR_ROWS = {6: 41, 7: 383, 8: 8_909, 9: 34_332, 10: 49_037, 11: 57_674, 12: 78_709,
             13: 72_829, 14: 67_471, 15: 77_519, 16: 54_516, 17: 28_509, 18: 7_974,
             19: 3_705, 20: 871}
FIRST_DAY, LAST_DAY = np.datetime64("2010-12-01"), np.datetime64("2011-12-09")
FIRST_MINUTE, LAST_MINUTE = 8 * 60 + 26, 12 * 60 + 50
# Christmas break and the 2011 bank holidays: no sales at all.
CLOSED = np.array(["2010-12-24", "2010-12-27", "2010-12-28", "2010-12-29", "2010-12-30",
                   "2010-12-31", "2011-01-03", "2011-04-22", "2011-04-25", "2011-04-29",
                   "2011-05-02", "2011-05-30", "2011-08-29"], dtype="datetime64[D]")

# Non-product codes: (code, description, {host pool: rows}, quantity, price in pence-milli).
# Pools: reg = customer order, foreign/eire = order of a customer there, dotcom = the
# anonymous web-shop orders, cancel / cancel_anon = C invoices with / without a customer.
SPECIALS: tuple[tuple[str, str, dict[str, int], int, tuple[float, float]], ...] = (
    ("POST", "POSTAGE", {"foreign": 1_136, "cancel_foreign": 120}, 2, (18.0, 0.4)),
    ("DOT", "DOTCOM POSTAGE", {"dotcom": 710}, 1, (120.0, 0.9)),
    ("M", "Manual", {"reg": 327, "cancel": 243}, 1, (4.0, 1.8)),
    ("m", "Manual", {"reg": 1}, 1, (2.55, 0.0)),
    ("C2", "CARRIAGE", {"eire": 144}, 1, (50.0, 0.0)),
    ("D", "Discount", {"cancel": 77}, 1, (30.0, 1.2)),
    ("S", "SAMPLES", {"cancel": 61, "reg": 2}, 1, (30.0, 1.2)),
    ("BANK CHARGES", "Bank Charges", {"reg": 25, "cancel": 12}, 1, (15.0, 0.0)),
    ("AMAZONFEE", "AMAZON FEE", {"cancel_anon": 32, "dotcom": 2}, 1, (8000.0, 0.45)),
    ("CRUK", "CRUK Commission", {"cancel": 16}, 1, (60.0, 1.0)),
    ("PADS", "PADS TO MATCH ALL CUSHIONS", {"reg": 4}, 1, (0.001, 0.0)),
    *((f"gift_0001_{v}", f"Dotcomgiftshop Gift Voucher £{v}.00", {"dotcom": n}, 1,
       (round(v / 1.175, 2), 0.0)) for v, n in ((10, 10), (20, 8), (30, 6), (40, 6), (50, 4))),
    *((code, desc, {"dotcom": n}, 1, (price, 0.0)) for code, desc, n, price in (
        ("DCGS0003", "BOXED GLASS ASHTRAY", 4, 2.46), ("DCGS0004", "HAYNES CAMPER SHOULDER BAG", 3, 16.63),
        ("DCGS0069", "OOH LA LA DOGS COLLAR", 3, 15.79), ("DCGS0070", "CAMOUFLAGE DOG COLLAR", 3, 12.46),
        ("DCGS0076", "SUNJAR LED NIGHT NIGHT LIGHT", 3, 16.13), ("DCGSSBOY", "BOYS PARTY BAG", 4, 3.29),
        ("DCGSSGIRL", "GIRLS PARTY BAG", 5, 3.29), ("DCGS0066N", "NAVY CUDDLES DOG HOODIE", 3, 16.63),
        ("DCGS0055", "EMPIRE DESIGN ROSETTE", 2, 2.46), ("DCGS0057", "MISTLETOE CHRISTMAS BAUBLE", 2, 4.13),
        ("DCGS0072", "LADIES LEOPARD SCARF", 3, 8.29), ("DCGS0074", "PET MUG, GRANNY", 2, 4.96),
        ("DCGS0071", "PAW PRINT DOG BOWL", 3, 6.63))),
)
ADJUST_CODE, ADJUST_DESC, ADJUST_PRICE = "B", "Adjust bad debt", 11_062_060  # thousandths
# (code, description, quantity, price thousandths, 'YYYY-MM-DD HH:MM', cancelled minutes later)
WHALES = (("23166", "MEDIUM CERAMIC TOP STORAGE JAR", 74_215, 1_040, "2011-01-18 10:01", 16),
          ("23843", "PAPER CRAFT , LITTLE BIRDIE", 80_995, 2_080, "2011-12-09 09:15", 12))
ADJUST_AT = "2011-08-12 14:50"
MANUAL_MAX = 38_970_000  # the file's largest UnitPrice, a cancelled manual line

# Stock notes written by warehouse staff on product codes (negative quantity, price 0).
NOTES = ("check", "damaged", "Damaged", "damages", "found", "Found", "?", "??", "???missing",
         "missing", "lost", "wet damaged", "water damaged", "thrown away", "smashed", "crushed",
         "cracked", "faulty", "broken", "sold as set on dotcom", "adjustment", "re-adjustment",
         "counted", "stock check", "wrong code", "wrong code?", "wrongly coded 20713",
         "wrongly marked. 23343 in box", "mixed up", "label mix up", "barcode problem",
         "incorrect stock entry.", "had been put aside", "Given away", "given away",
         "display", "samples", "showroom", "test", "mouldy, thrown away.",
         "wet, rusty-thrown away", "rusty thrown away", "Printing smudges/thrown away",
         "on cargo order", "sold as 1", "mailout", "returned", "lost in space", "amazon",
         "Amazon", "ebay", "dotcom", "dotcom sales", "Dotcom sales", "wet pallet", "wet/rusty",
         "reverse 21/5/11 adjustment", "alan hodge cant mamage this section", "lost??",
         "Unsaleable, destroyed.", "temp adjustment", "used for show display",
         "damages/display", "damages wax", "?sold as sets?", "check?", "crushed boxes",
         "water damage", "historic computer difference?....se", "mystery! Only ever imported 1800",
         "Breakages", "counted incorrectly", "FOUND", "Marked as 23343", "incorrectly credited C550456 see 47",
         "dotcomstock", "did  a credit  and did not tick ret", "High Resolution Image", "michel oops",
         "to push order througha s stock was", "website fixed", "check for duplicate")
GHOST_NOTES = ("found", "Found", "FOUND", "amazon", "adjustment", "?", "dotcom", "check",
               "counted", "returned", "mailout", "had been put aside", "Dotcom sales")

# Nice price points (pounds) the shop uses, and how often a product sits on each.
LADDER = (0.12, 0.19, 0.21, 0.25, 0.29, 0.36, 0.39, 0.42, 0.55, 0.65, 0.72, 0.79, 0.83, 0.85,
          0.95, 1.25, 1.45, 1.65, 1.69, 1.95, 2.08, 2.1, 2.46, 2.55, 2.95, 3.25, 3.75, 4.25,
          4.95, 5.95, 6.75, 7.95, 8.5, 9.95, 12.75, 14.95, 16.95, 19.95, 24.95, 39.95, 49.95,
          165.0, 295.0, 649.5)
LADDER_WEIGHT = (2, 4, 3, 3, 6, 3, 5, 6, 7, 7, 3, 5, 4, 10, 4, 14, 11, 10, 4, 7, 5, 6, 3, 9,
                 8, 4, 7, 7, 6, 4, 3, 4, 3, 3, 3, 1.5, 1, 1, 0.6, 0.2, 0.15, 0.03, 0.02, 0.01)

_TOP = (("85123A", "WHITE HANGING HEART T-LIGHT HOLDER", 2.55), ("22423", "REGENCY CAKESTAND 3 TIER", 12.75),
        ("85099B", "JUMBO BAG RED RETROSPOT", 1.65), ("47566", "PARTY BUNTING", 4.65),
        ("20725", "LUNCH BAG RED RETROSPOT", 1.65), ("84879", "ASSORTED COLOUR BIRD ORNAMENT", 1.69),
        ("22720", "SET OF 3 CAKE TINS PANTRY DESIGN ", 4.95), ("22197", "SMALL POPCORN HOLDER", 0.85),
        ("21212", "PACK OF 72 RETROSPOT CAKE CASES", 0.55), ("20727", "LUNCH BAG  BLACK SKULL.", 1.65),
        ("22383", "LUNCH BAG SUKI DESIGN ", 1.65), ("23203", "JUMBO BAG DOILEY PATTERNS", 2.08),
        ("79321", "CHILLI LIGHTS", 5.75), ("22086", "PAPER CHAIN KIT 50'S CHRISTMAS ", 2.95),
        ("85123a", "WHITE HANGING HEART T-LIGHT HOLDER", 2.55),
        *((code, desc, qty_price[1] / 1000) for code, desc, *qty_price, _, _ in WHALES))
_PATTERNS = ("RED RETROSPOT", "PINK POLKADOT", "BLUE POLKADOT", "VINTAGE DOILY", "SPACEBOY",
             "DOLLY GIRL", "WOODLAND", "SKULLS", "REGENCY", "ROSES", "PAISLEY PARK", "UNION JACK",
             "VINTAGE LEAF", "FLORAL", "STRAWBERRY", "CHERRY LIGHTS", "BAROQUE BLACK WHITE",
             "SWEETHEART", "HEART OF WICKER", "CHRISTMAS", "SCANDINAVIAN", "EDWARDIAN",
             "APPLES", "PANTRY", "LOVE BIRD", "JAM MAKING", "CIRCUS PARADE", "ALPHABET",
             "FAIRY CAKE", "TOADSTOOL", "WILD FLOWER", "ANTIQUE SILVER", "FRENCH BLUE",
             "RETRO SPOT", "ENGLISH ROSE", "BIRD", "OWL", "STAR", "STRIPEY", "SPOTTY", "ZINC",
             "VINTAGE UNION JACK", "GINGHAM", "TEA TIME", "SNOWFLAKE", "HEN HOUSE", "PEACE",
             "GLASS STAR", "CHARLIE+LOLA", "LOVEBIRD", "VINTAGE CHRISTMAS", "ROCOCO", "MOROCCAN")
_COLOURS = ("", "", "", "RED ", "PINK ", "BLUE ", "GREEN ", "WHITE ", "IVORY ", "CREAM ",
            "BLACK ", "PURPLE ", "GOLD ", "SILVER ", "ORANGE ", "PASTEL ")
_THINGS = ("T-LIGHT HOLDER", "CAKE STAND", "LUNCH BAG", "JUMBO BAG", "TEA TOWEL", "MUG",
           "PURSE", "CANDLE", "NOTEBOOK", "DOORSTOP", "CUSHION COVER", "BUNTING", "PHOTO FRAME",
           "ALARM CLOCK", "SHOPPING BAG", "GIFT WRAP", "WRAP", "NAPKINS", "PAPER CUPS",
           "PAPER PLATES", "BOWL", "JUG", "TIN", "STORAGE JAR", "COAT HANGER", "HOT WATER BOTTLE",
           "PARASOL", "UMBRELLA", "HAND WARMER", "CHALKBOARD", "KEY RING", "PEN", "BEAKER",
           "TRINKET BOX", "NECKLACE", "EARRINGS", "BRACELET", "CAKE CASES", "BAKING SET",
           "APRON", "OVEN GLOVE", "WALL CLOCK", "LANTERN", "GARLAND", "WATER BOTTLE",
           "SPOTTY BAG", "SNACK BOX", "RECIPE BOX", "PLAYING CARDS", "STICKER SHEET", "ROSETTE",
           "DOOR HANGER", "CHOPSTICKS", "EGG CUP", "TEAPOT", "MILK JUG", "SUGAR BOWL",
           "TISSUES", "PARTY BAG", "STRING OF LIGHTS", "WREATH", "FRAME", "MIRROR",
           "WASHBAG", "HAIR CLIP", "CHARM", "DRAWER KNOB", "HOOK", "PEG BAG", "TABLE RUNNER")
_PREFIXES = ("", "", "", "", "SET OF 3 ", "SET OF 6 ", "SET 2 ", "PACK OF 12 ", "PACK OF 60 ",
             "SMALL ", "LARGE ", "MINI ", "JUMBO ", "HANGING ", "ASSORTED ", "RETRO ")


@dataclass(frozen=True)
class Catalog:
    """Products as parallel arrays; index p names one (code, description) product.

    Prices are integer thousandths of a pound so they print exactly as the real file does.
    """

    codes: list[str]
    descriptions: list[str]
    code: np.ndarray  # product -> index into codes
    desc: np.ndarray  # product -> index into descriptions
    alt_desc: np.ndarray  # product -> description used from switch_day on (often the same)
    switch_day: np.ndarray  # product -> day index from which alt_desc applies
    price: np.ndarray  # product -> wholesale price, thousandths
    bulk_price: np.ndarray  # product -> price at or above bulk_qty
    bulk_qty: np.ndarray
    web_price: np.ndarray  # product -> the web shop's (anonymous orders') price
    cdf: np.ndarray  # cumulative popularity, for sampling ordinary order lines
    note_pool: np.ndarray  # products whose codes carry the stock notes
    specials: dict[str, int]  # special code -> product index
    notes: np.ndarray  # description indices of NOTES
    ghost_notes: np.ndarray  # description indices of GHOST_NOTES

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Draw products by popularity."""
        return np.searchsorted(self.cdf, rng.random(n), side="right").astype(np.int32)


def _product_names(rng: np.random.Generator, n: int) -> list[str]:
    """Unique upper-case gift-shop names; a few with commas and many with a trailing space."""
    names: dict[str, None] = {}
    while len(names) < n:
        name = (rng.choice(_PREFIXES) + rng.choice(_COLOURS) + rng.choice(_PATTERNS) + " "
                + rng.choice(_THINGS))
        if rng.random() < 0.012:
            name = name.replace(" ", " , ", 1)
        names.setdefault(name, None)
    out = list(names)
    for i in np.flatnonzero(rng.random(n) < 0.13):
        out[i] += " "
    return out


def _product_codes(rng: np.random.Generator, n: int, taken: set[str]) -> list[str]:
    """Five-digit codes, mostly 2xxxx, plus families with a letter suffix (85099B, 85099C)."""
    codes: dict[str, None] = {}
    families = rng.choice(np.arange(84_000, 85_300), size=140, replace=False)
    for base in families:
        for letter in rng.choice(list("ABCDEFGHJKLMNPSWY"), size=rng.integers(1, 7), replace=False):
            codes.setdefault(f"{base}{letter}", None)
    pool = np.concatenate([np.arange(20_615, 23_844), np.arange(10_002, 17_999, 7),
                           np.arange(35_000, 90_215, 37)])
    for number in rng.permutation(pool):
        if len(codes) >= n + len(taken):
            break
        codes.setdefault(str(number), None)
    return [c for c in codes if c not in taken][:n]


def build_catalog(rng: np.random.Generator, n_products: int = 3_990, n_twins: int = 60,
                  n_alt: int = 110, n_days: int = 305) -> Catalog:
    """Products with popularity, prices, renamed and lower-case twin codes, and specials."""
    top_codes = {code for code, _, _ in _TOP}
    names = _product_names(rng, n_products - len(_TOP))
    codes = [code for code, _, _ in _TOP] + _product_codes(rng, n_products - len(_TOP), top_codes)
    descs = [desc for _, desc, _ in _TOP] + names
    ladder = np.round(np.array(LADDER) * 1000).astype(np.int64)
    step = rng.choice(len(ladder), n_products, p=np.array(LADDER_WEIGHT) / sum(LADDER_WEIGHT))
    for i, (_, _, price) in enumerate(_TOP):
        step[i] = int(np.abs(ladder - round(price * 1000)).argmin())
    weight = np.sort(rng.lognormal(0.0, 1.0, n_products))[::-1]
    weight[len(_TOP) - 3:] = rng.permutation(weight[len(_TOP) - 3:])  # whales: ordinary sellers

    # Lower-case twins ("85123a") of lettered codes share their twin's description.
    lettered = [i for i, c in enumerate(codes) if c[-1].isalpha() and c not in top_codes]
    twin_of = np.array([codes.index("85123A"), *rng.choice(lettered, n_twins - 1, replace=False)])
    twin_of = twin_of[[codes[i].lower() != codes[i] for i in twin_of]]
    twin_rows = [i for i, c in enumerate(codes) if c == "85123a"]
    twin_of = twin_of[[codes[i].lower() not in codes for i in twin_of]]
    codes += [codes[i].lower() for i in twin_of]
    descs += [descs[i] for i in twin_of]
    step = np.concatenate([step, step[twin_of]])
    weight = np.concatenate([weight, rng.lognormal(0.0, 1.0, len(twin_of))])
    twins = np.r_[twin_rows, np.arange(n_products, len(codes))].astype(np.int64)
    weight[twins] *= 0.0037 * (weight.sum() - weight[twins].sum()) / weight[twins].sum() / 0.9963

    # Specials never come up as ordinary lines (weight 0); they are placed on purpose.
    specials: dict[str, int] = {}
    for code, desc, _, _, _ in SPECIALS:
        specials[code] = len(codes)
        codes.append(code)
        descs.append(desc)
    specials[ADJUST_CODE] = len(codes)
    codes.append(ADJUST_CODE)
    descs.append(ADJUST_DESC)
    n_special = len(specials)
    step = np.concatenate([step, np.zeros(n_special, np.int64)])
    weight = np.concatenate([weight, np.zeros(n_special)])

    n_all = len(codes)
    alt = np.arange(n_all)
    renamed = rng.choice(np.arange(20, 1_200), n_alt, replace=False)
    alt[renamed] = np.arange(len(descs), len(descs) + n_alt)
    descs += [_renamed(descs[i], rng) for i in renamed]
    price = ladder[step]
    web = np.round(price * rng.uniform(1.9, 2.1, n_all) / 10).astype(np.int64) * 10
    bulk_qty = rng.choice(np.array([12, 24, 25, 48, 100, 1_000_000]), n_all,
                          p=[0.3, 0.25, 0.05, 0.1, 0.1, 0.2])
    note_descs = np.arange(len(descs), len(descs) + len(NOTES))
    descs += list(NOTES)
    ghost = np.array([descs.index(t, int(note_descs[0])) for t in GHOST_NOTES])
    cdf = np.cumsum(weight)
    return Catalog(
        codes=codes, descriptions=descs, code=np.arange(n_all), desc=np.arange(n_all),
        alt_desc=alt, switch_day=rng.integers(60, n_days - 60, n_all),
        price=price, bulk_price=ladder[np.maximum(step - 1, 0)], bulk_qty=bulk_qty,
        web_price=web, cdf=cdf / cdf[-1],
        note_pool=rng.choice(n_products, 700, replace=False),
        specials=specials, notes=note_descs, ghost_notes=ghost,
    )


def _renamed(desc: str, rng: np.random.Generator) -> str:
    """A later wording of a product's description, as the shop's staff re-typed it."""
    edits = (lambda d: d.rstrip() if d.endswith(" ") else d + " ",
             lambda d: d.replace(" OF ", " / ", 1) if " OF " in d else "SET/" + d,
             lambda d: d.replace("T-LIGHT", "TLIGHT") if "T-LIGHT" in d else d + " DESIGN",
             lambda d: d.title())
    return edits[int(rng.integers(len(edits)))](desc)
