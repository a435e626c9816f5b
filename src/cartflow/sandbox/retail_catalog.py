"""Catalogs behind the Online Retail generator: the real file's figures, products, customers.

Counts (rows per country, month, weekday and hour; customers per country; quirk rows) are
the real UCI Online Retail file's: those in `shared/reference/online-retail-profile.md` and
the finer splits consistent with them. Price points, quantity tables and name parts are
modelling choices, tuned so the generated file lands on the profile's ratios.
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
_COUNTRY = {name: i for i, (name, _, _) in enumerate(COUNTRIES)}
UK, EIRE, CHANNEL_ISLANDS = _COUNTRY["United Kingdom"], _COUNTRY["EIRE"], _COUNTRY["Channel Islands"]
ANONYMOUS_ONLY = (_COUNTRY["Unspecified"], _COUNTRY["Hong Kong"])
CUSTOMER_IDS = (12_346, 5_942)  # first id, span of the id range (12346-18287)
CUSTOMERS, MOST_INVOICES = 4_372, 248  # distinct customers; invoices of the busiest one

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

# Non-product codes: (code, description, {host pool: rows}, largest quantity,
# (median price in pounds, log-normal spread)).
# Pools: reg = customer order, foreign/eire = order of a customer there, dotcom = the
# anonymous web-shop orders, cancel / cancel_anon = C invoices with / without a customer.
SPECIALS: tuple[tuple[str, str, dict[str, int], int, tuple[float, float]], ...] = (
    ("POST", "POSTAGE", {"foreign": 1_136, "cancel_foreign": 120}, 3, (18.0, 0.4)),
    ("DOT", "DOTCOM POSTAGE", {"dotcom": 710}, 1, (120.0, 0.9)),
    ("M", "Manual", {"reg": 327, "cancel": 244}, 1, (4.0, 1.8)),
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

# (quantity, weight): trade customers, web-shop shoppers, warehouse stock notes.
TRADE_QTY = ((1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 24, 25, 32, 36, 48, 50, 72, 96, 100, 144,
              200, 288, 400, 480, 576, 720, 1_000, 1_440, 2_400, 4_800),
             (17, 15, 7.5, 8, 2, 11, 3.5, 5, 17, .5, 1, 6.5, 1, .3, 1, 2, .3, .7, .6, .5, .5,
              .3, .15, .1, .08, .05, .03, .012, .006, .002, .001))
WEB_QTY = ((1, 2, 3, 4, 5, 6, 8, 10, 12, 24), (62, 20, 6, 4, 2, 2, 1, 1.5, 1, .3))
NOTE_QTY = ((1, 2, 3, 4, 5, 6, 10, 12, 20, 24, 30, 48, 50, 72, 100, 144, 200, 300, 400, 600,
             1_000, 1_440, 3_000, 9_600),
            (12, 8, 6, 5, 4, 6, 6, 6, 4, 4, 3, 3, 3, 2, 4, 2, 2, 1.5, 1, 1, .8, .5, .3, .1))


def draw(rng: np.random.Generator, table: tuple[tuple[float, ...], tuple[float, ...]],
         n: int) -> np.ndarray:
    """n values from a (values, weights) table such as TRADE_QTY."""
    values, weights = np.array(table[0], np.int64), np.array(table[1], float)
    return values[rng.choice(len(values), n, p=weights / weights.sum())]


# Nice price points (pounds) the shop uses, and the share of order lines at each.
LADDER = (0.12, 0.19, 0.21, 0.25, 0.29, 0.36, 0.39, 0.42, 0.55, 0.65, 0.72, 0.79, 0.83, 0.85,
          0.95, 1.25, 1.45, 1.65, 1.69, 1.95, 2.08, 2.1, 2.46, 2.55, 2.95, 3.25, 3.75, 4.25,
          4.95, 5.95, 6.75, 7.95, 8.5, 9.95, 12.75, 14.95, 16.95, 19.95, 24.95, 39.95, 49.95,
          165.0, 295.0, 649.5)
LADDER_WEIGHT = (1, 2, 1.5, 1.5, 3, 1.5, 2.5, 4, 4, 5, 2, 3, 2, 7, 3, 14, 11, 10, 4, 8, 5, 6, 3,
                 10, 9, 4, 8, 7, 6, 4, 3, 4, 3, 3, 3, 1.5, 1, 1, 0.6, 0.2, 0.15, 0.03, 0.02, 0.01)

_TOP = (("85123A", "WHITE HANGING HEART T-LIGHT HOLDER", 2.55), ("22423", "REGENCY CAKESTAND 3 TIER", 12.75),
        ("85099B", "JUMBO BAG RED RETROSPOT", 1.65), ("47566", "PARTY BUNTING", 4.65),
        ("20725", "LUNCH BAG RED RETROSPOT", 1.65), ("84879", "ASSORTED COLOUR BIRD ORNAMENT", 1.69),
        ("22720", "SET OF 3 CAKE TINS PANTRY DESIGN ", 4.95), ("22197", "SMALL POPCORN HOLDER", 0.85),
        ("21212", "PACK OF 72 RETROSPOT CAKE CASES", 0.55), ("20727", "LUNCH BAG  BLACK SKULL.", 1.65),
        ("22383", "LUNCH BAG SUKI DESIGN ", 1.65), ("23203", "JUMBO BAG DOILEY PATTERNS", 2.08),
        ("79321", "CHILLI LIGHTS", 5.75), ("22086", "PAPER CHAIN KIT 50'S CHRISTMAS ", 2.95),
        ("85123a", "WHITE HANGING HEART T-LIGHT HOLDER", 2.55),
        *((code, desc, price / 1000) for code, desc, _, price, _, _ in WHALES))
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
    """Products as parallel arrays: product p has code `codes[p]` and description
    `descriptions[p]` (until `switch_day[p]`, then `descriptions[alt_desc[p]]`).

    Prices are integer thousandths of a pound so they print exactly as the real file does.
    """

    codes: list[str]
    descriptions: list[str]
    alt_desc: np.ndarray
    switch_day: np.ndarray
    price: np.ndarray  # wholesale price
    bulk_price: np.ndarray  # price at or above bulk_qty
    bulk_qty: np.ndarray
    web_price: np.ndarray  # the web shop's price (anonymous orders)
    cdf: np.ndarray  # cumulative popularity, for sampling ordinary order lines
    note_pool: np.ndarray  # products whose codes carry the stock notes
    specials: dict[str, int]  # non-product code -> product
    notes: np.ndarray  # description indices of NOTES
    ghost_notes: np.ndarray  # description indices of GHOST_NOTES

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Draw products by popularity."""
        return np.searchsorted(self.cdf, rng.random(n), side="right")

    def unit_price(self, product: np.ndarray, qty: np.ndarray, web: np.ndarray) -> np.ndarray:
        """Price is a line's, not a product's: the web shop has its own, trade buys in bulk."""
        trade = np.where(qty >= self.bulk_qty[product], self.bulk_price[product], self.price[product])
        return np.where(web, self.web_price[product], trade)

    def description(self, product: np.ndarray, day: int) -> np.ndarray:
        """Description index of each product on that day (some were renamed during the year)."""
        return np.where(day >= self.switch_day[product], self.alt_desc[product], product)

    def stock_notes(self, rng: np.random.Generator, note: np.ndarray, empty: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
        """(product, description) of warehouse lines: a note typed on a product code
        (`note`: a stock note, else found stock), or no description at all (`empty`)."""
        n = len(note)
        product = np.where(empty, self.sample(rng, n), rng.choice(self.note_pool, n))
        text = np.where(note, rng.choice(self.notes, n), rng.choice(self.ghost_notes, n))
        return product, np.where(empty, -1, text)

    def special_lines(self, rng: np.random.Generator, code: str, n: int
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(product, quantity, price) of n lines with a non-product code such as POST."""
        _, _, _, top_qty, (median, spread) = next(s for s in SPECIALS if s[0] == code)
        price = median * rng.lognormal(0.0, spread, n)
        price = np.round(price * 1000) if median < 0.01 else np.round(price * 100) * 10
        return (np.full(n, self.specials[code]), rng.integers(1, top_qty + 1, n),
                price.astype(np.int64))

    def landmark_lines(self, sets: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(product, quantity, price) of the A rows (all sets), then per set each huge order
        followed by its cancellation."""
        adjust = [(self.specials[ADJUST_CODE], 1, sign * ADJUST_PRICE) for sign in (1, -1, -1)]
        whales = [(self.codes.index(code), sign * qty, price)
                  for code, _, qty, price, _, _ in WHALES for sign in (1, -1)]
        codes, qtys, prices = (np.array(column) for column in zip(*(adjust * sets + whales * sets), strict=False))
        return codes, qtys, prices


def build_catalog(rng: np.random.Generator, n_products: int = 3_990, n_twins: int = 60,
                  n_renamed: int = 132, twin_share: float = 0.00355) -> Catalog:
    """Products with popularity and prices, lower-case twin codes, renamed products, specials."""
    codes = [code for code, _, _ in _TOP] + _product_codes(rng, n_products - len(_TOP))
    descs = [desc for _, desc, _ in _TOP] + _product_names(rng, n_products - len(_TOP))
    ladder = np.round(np.array(LADDER) * 1000).astype(np.int64)
    weight = np.sort(rng.lognormal(0.0, 1.0, n_products))[::-1]
    ordinary = len(_TOP) - len(WHALES)  # the whales' products otherwise sell like any other
    weight[ordinary:] = rng.permutation(weight[ordinary:])
    # Price steps laid along popularity, so that *lines* follow LADDER_WEIGHT whatever the seed.
    ladder_cdf = np.cumsum(LADDER_WEIGHT) / sum(LADDER_WEIGHT)
    step = np.minimum(np.searchsorted(ladder_cdf, _end_to_end(rng, weight), side="right"),
                      len(ladder) - 1)
    step[: len(_TOP)] = [np.abs(ladder - round(price * 1000)).argmin() for *_, price in _TOP]

    # Lower-case twins ("85123a") of lettered codes, with their twin's description.
    lettered = [i for i, c in enumerate(codes) if c[-1].isalpha() and i >= len(_TOP)]
    twin_of = rng.choice(lettered, n_twins - 1, replace=False)
    codes += [codes[i].lower() for i in twin_of]
    descs += [descs[i] for i in twin_of]
    step = np.concatenate([step, step[twin_of]])
    twins = np.r_[codes.index("85123a"), np.arange(n_products, len(codes))]
    weight = np.concatenate([weight, np.zeros(len(twin_of))])
    rest = weight.sum() - weight[twins].sum()
    weight[twins] = twin_share / (1 - twin_share) * rest / len(twins)  # even, so counts hold

    # Non-product codes never come up as ordinary lines (weight 0): they are placed.
    specials = {code: len(codes) + i for i, (code, *_) in enumerate(SPECIALS)}
    specials[ADJUST_CODE] = len(codes) + len(SPECIALS)
    codes += [code for code, *_ in SPECIALS] + [ADJUST_CODE]
    descs += [desc for _, desc, *_ in SPECIALS] + [ADJUST_DESC]
    step = np.concatenate([step, np.zeros(len(specials), np.int64)])
    weight = np.concatenate([weight, np.zeros(len(specials))])

    n_all = len(codes)
    alt = np.arange(n_all)
    renamed = rng.choice(np.arange(20, 1_200), n_renamed, replace=False)
    alt[renamed] = np.arange(len(descs), len(descs) + n_renamed)
    descs += [_renamed(rng, descs[i]) for i in renamed]
    notes = np.arange(len(descs), len(descs) + len(NOTES))
    descs += list(NOTES)
    price = ladder[step]
    cdf = np.cumsum(weight)
    return Catalog(
        codes=codes, descriptions=descs, alt_desc=alt,
        switch_day=rng.integers(60, 245, n_all), price=price,
        bulk_price=ladder[np.maximum(step - 1, 0)],
        bulk_qty=rng.choice([12, 24, 25, 48, 100, 1 << 30], n_all, p=[.22, .18, .05, .1, .05, .4]),
        web_price=np.where(rng.random(n_all) < 0.4, price,  # some sell at one price everywhere
                           np.round(price * rng.uniform(1.9, 2.1, n_all) / 10).astype(np.int64) * 10),
        cdf=cdf / cdf[-1], note_pool=rng.choice(n_products, 700, replace=False),
        specials=specials, notes=notes,
        ghost_notes=notes[[NOTES.index(text) for text in GHOST_NOTES]],
    )


def _product_names(rng: np.random.Generator, n: int) -> list[str]:
    """Unique upper-case gift-shop names; a few with commas, many with a trailing space."""
    names: dict[str, None] = {}
    parts = (_PREFIXES, _COLOURS, _PATTERNS, _THINGS)
    while len(names) < n:
        picks = [rng.integers(len(words), size=n) for words in parts]
        commas = rng.random(n) < 0.012
        for i, j, k, m, comma in zip(*picks, commas, strict=False):
            name = f"{_PREFIXES[i]}{_COLOURS[j]}{_PATTERNS[k]} {_THINGS[m]}"
            names.setdefault(name.replace(" ", " , ", 1) if comma else name, None)
    out = list(names)[:n]
    for i in np.flatnonzero(rng.random(n) < 0.13):
        out[i] += " "
    return out


def _product_codes(rng: np.random.Generator, n: int) -> list[str]:
    """Five-digit codes, mostly 2xxxx, plus families with a letter suffix (85099B, 85099C)."""
    taken = {code.upper() for code, _, _ in _TOP}
    codes: dict[str, None] = {}
    for base in rng.choice(np.arange(84_000, 85_300), size=140, replace=False):
        for letter in rng.choice(list("ABCDEFGHJKLMNPSWY"), size=rng.integers(1, 7), replace=False):
            codes.setdefault(f"{base}{letter}", None)
    pool = np.concatenate([np.arange(20_615, 23_844), np.arange(10_002, 17_999, 7),
                           np.arange(35_000, 90_215, 37)])
    for number in rng.permutation(pool):
        codes.setdefault(str(number), None)
        if len(codes) >= n + len(taken):
            break
    return [c for c in codes if c not in taken][:n]


def _renamed(rng: np.random.Generator, desc: str) -> str:
    """A later wording of a product's description, as the shop's staff re-typed it."""
    edits = (lambda d: d.rstrip() if d.endswith(" ") else d + " ",
             lambda d: d.replace(" OF ", "/", 1) if " OF " in d else "SET/" + d,
             lambda d: d.replace("T-LIGHT", "TLIGHT") if "T-LIGHT" in d else d + " DESIGN",
             lambda d: d.title())
    return edits[int(rng.integers(len(edits)))](desc)


@dataclass(frozen=True)
class Calendar:
    """Trading days and when in a day invoices happen, fitted to the month and weekday rows."""

    days: np.ndarray  # open days, datetime64[D]
    weight: np.ndarray  # share of invoices per day
    minute_cdf: np.ndarray  # over the 1,440 minutes of a day

    @classmethod
    def build(cls) -> Calendar:
        days = np.arange(FIRST_DAY, LAST_DAY + 1)
        weekday = (days.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday
        is_open = (weekday != 5) & ~np.isin(days, CLOSED)
        days, weekday = days[is_open], weekday[is_open]
        month = (days.astype("datetime64[M]") - days[0].astype("datetime64[M]")).astype(np.int64)
        per_minute = np.zeros(1440)
        for hour, rows in HOUR_ROWS.items():
            per_minute[hour * 60:(hour + 1) * 60] = rows / 60
        cdf = np.cumsum(per_minute)
        cdf /= cdf[-1]
        weight = np.ones(len(days))  # the first and last day are partial
        weight[0], weight[-1] = 1 - cdf[FIRST_MINUTE - 1], cdf[LAST_MINUTE]
        for _ in range(30):  # iterative proportional fitting to both margins
            weight *= (np.array(MONTH_ROWS) / np.bincount(month, weight))[month]
            by_day = np.bincount(weekday, weight, minlength=7)
            weight *= (np.array(WEEKDAY_ROWS) / np.where(by_day > 0, by_day, 1))[weekday]
        return cls(days=days, weight=weight / weight.sum(), minute_cdf=cdf)

    def schedule(self, rng: np.random.Generator, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(day, minute) per invoice, spread so that *rows* follow the day and hour profiles.

        Placing invoices independently would let a few 1,000-line invoices skew a month or an
        hour; laying them end to end in random order onto each profile keeps rows on it.
        """
        day_cdf = np.cumsum(self.weight)
        day = np.searchsorted(day_cdf / day_cdf[-1], _end_to_end(rng, rows), side="right")
        minute = np.searchsorted(self.minute_cdf, _end_to_end(rng, rows), side="right")
        # The first day opens at 8:26, the last closes at 12:50: redraw minutes outside.
        last = len(self.days) - 1
        out = ((day == 0) & (minute < FIRST_MINUTE)) | ((day == last) & (minute > LAST_MINUTE))
        lo = np.where(day[out] == 0, self.minute_cdf[FIRST_MINUTE - 1], 0.0)
        hi = np.where(day[out] == last, self.minute_cdf[LAST_MINUTE], 1.0)
        u = lo + rng.random(out.sum()) * (hi - lo)
        minute[out] = np.searchsorted(self.minute_cdf, u, side="right")
        return day, minute

    def landmarks(self, rng: np.random.Generator, sets: int) -> list[list[tuple[int, int]]]:
        """(day, minute) of the bad-debt adjustment and the two huge orders, per set.

        The first set is when the real file has them; later sets (scale > 1) fall on any day
        but the short last one, in office hours.
        """
        first = [self._locate(ADJUST_AT), *(self._locate(w[4]) for w in WHALES)]
        return [first] + [[(int(rng.integers(len(self.days) - 1)), int(rng.integers(540, 1140)))
                           for _ in first] for _ in range(sets - 1)]

    def _locate(self, when: str) -> tuple[int, int]:
        day, clock = when.split()
        hour, minute = clock.split(":")
        return int(np.searchsorted(self.days, np.datetime64(day))), int(hour) * 60 + int(minute)


def _end_to_end(rng: np.random.Generator, rows: np.ndarray) -> np.ndarray:
    """Lay invoices end to end in random order; where each falls in [0, 1) of all rows."""
    order = rng.permutation(len(rows))
    end = np.cumsum(rows[order])
    at = np.empty(len(rows))
    at[order] = (end - rows[order] * (1 - rng.random(len(rows)))) / end[-1]  # < 1
    return at


@dataclass(frozen=True)
class Customers:
    """Customers (id, home country) and the invoices they raise."""

    ids: np.ndarray
    country: np.ndarray
    invoice_owner: np.ndarray  # per invoice: index of its customer
    invoice_country: np.ndarray  # usually the owner's home country
    cancelled: np.ndarray  # per invoice: a C invoice


def build_customers(rng: np.random.Generator, scale: float, country_rows: np.ndarray,
                    anonymous_uk_rows: int, n_invoices: int, n_cancelled: int,
                    n_movers: int) -> Customers:
    """Spread `n_invoices` over customers: by country like the rows, heavy-tailed within one.

    `n_cancelled` of them are cancellations; `n_movers` foreign customers order once from
    another country (the real file has 8 customers seen in two countries).
    """
    counts = np.array([max(1, round(k * scale)) if k and country_rows[c] else 0
                       for c, (_, _, k) in enumerate(COUNTRIES)])
    counts[UK] = max(1, round(CUSTOMERS * scale) - counts.sum() + counts[UK])
    country = np.repeat(np.arange(len(COUNTRIES)), counts)
    n = len(country)
    first, span = CUSTOMER_IDS[0], max(round(CUSTOMER_IDS[1] * scale), n)
    inner = np.sort(rng.choice(np.arange(1, span - 1), max(n - 2, 0), replace=False))
    ids = first + np.r_[0, inner, span - 1][:n]
    # Foreign customers hold most of the low ids, as in the real file.
    ids = ids[np.argsort(np.argsort(np.where(country == UK, 1, 0.12) * rng.random(n)))]

    rows = country_rows.astype(float)
    rows[UK] -= anonymous_uk_rows
    rows[list(ANONYMOUS_ONLY)] = 0
    budget = np.maximum(counts, np.round(rows / 18.3)).astype(np.int64)
    budget[UK] = max(counts[UK], n_invoices - budget.sum() + budget[UK])
    invoices = np.ones(n, np.int64)
    for c in np.flatnonzero(counts):
        members = np.flatnonzero(country == c)
        weight = rng.lognormal(0.0, 1.25, len(members))
        invoices[members] += rng.multinomial(budget[c] - counts[c], weight / weight.sum())
        while (over := np.maximum(invoices[members] - MOST_INVOICES, 0)).sum():
            room = (invoices[members] < MOST_INVOICES) * weight  # the busiest customer's count
            invoices[members] -= over
            if not room.any():
                break
            invoices[members] += rng.multinomial(over.sum(), room / room.sum())
    owner = np.repeat(np.arange(n), invoices)
    cancelled = np.zeros(len(owner), bool)
    cancelled[rng.choice(len(owner), n_cancelled, replace=False)] = True
    where = country[owner]
    abroad = np.flatnonzero((where != UK) & ~cancelled & (invoices[owner] > 1))
    homes = np.unique(country[country != UK])
    for c in rng.permutation(np.unique(owner[abroad]))[:n_movers if len(homes) > 1 else 0]:
        where[rng.choice(abroad[owner[abroad] == c])] = rng.choice(homes[homes != country[c]])
    return Customers(ids=ids, country=country, invoice_owner=owner, invoice_country=where,
                     cancelled=cancelled)
