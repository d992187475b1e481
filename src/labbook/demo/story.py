"""The demo story as plain data, with no I/O: who visits which lab, and when.

Every time is placed relative to the moment of the first load, in the lab's local time, so the
calendar is always about the coming weeks. ``build_story(now)`` is deterministic: the same ``now``
gives the same rows and the same ids, which lets tests check the story for any day of the year.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID, uuid5
from zoneinfo import ZoneInfo

_NAMESPACE = UUID("6f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f")
TIMEZONE = "Asia/Almaty"
_TZ = ZoneInfo(TIMEZONE)

Localized = dict[str, str]


def demo_id(name: str) -> UUID:
    """A stable id for a demo row, so documentation and tests can name it."""
    return uuid5(_NAMESPACE, f"labbook-demo/{name}")


def _t(kk: str, ru: str, en: str) -> Localized:
    return {"kk": kk, "ru": ru, "en": en}


@dataclass(frozen=True)
class Organization:
    slug: str
    kind: str
    name: Localized
    city: str
    country: str
    website: str | None = None
    description: Localized = field(default_factory=dict)


@dataclass(frozen=True)
class Lab:
    slug: str
    organization: str
    name: Localized
    description: Localized
    building: str
    room: str
    address: str
    capacity: int
    languages: tuple[str, ...]
    min_visitor_age: int | None
    safety_notes: Localized
    accessibility: str
    # (ISO weekday, opens, closes) in the lab's local time
    hours: tuple[tuple[int, time, time], ...]
    timezone: str = TIMEZONE


@dataclass(frozen=True)
class Equipment:
    lab: str
    slug: str
    kind: str
    name: Localized
    description: Localized
    units: int
    seats_per_unit: int
    requires_induction: bool


@dataclass(frozen=True)
class Person:
    key: str
    organization: str
    email: str
    full_name: str
    roles: tuple[str, ...]
    phone: str | None = None
    labs: tuple[str, ...] = ()
    # the language labbook writes to them in (pages, e-mail)
    language: str = "kk"

    @property
    def id(self) -> UUID:
        return demo_id(f"person/{self.key}")

    @property
    def token(self) -> str | None:
        """The demo API token, if this person has one; the others cannot call the API."""
        return DEMO_TOKENS.get(self.key)


@dataclass(frozen=True)
class Series:
    key: str
    lab: str
    kind: str
    title: Localized
    description: Localized
    local_start: datetime
    duration: timedelta
    weekdays: tuple[int, ...]
    count: int
    capacity: int
    instructor: str | None
    created_by: str
    requires_approval: bool

    @property
    def id(self) -> UUID:
        return demo_id(f"series/{self.key}")


@dataclass(frozen=True)
class Slot:
    key: str
    lab: str
    kind: str
    title: Localized
    description: Localized
    starts_at: datetime
    ends_at: datetime
    capacity: int
    created_by: str
    visibility: str = "public"
    organization: str | None = None
    booking_deadline: datetime | None = None
    requires_approval: bool = False
    instructor: str | None = None
    status: str = "active"
    series: str | None = None
    occurrence_start: datetime | None = None
    # (equipment slug, unit number)
    units: tuple[tuple[str, int], ...] = ()
    # a training that inducts those who attend it
    is_induction: bool = False

    @property
    def id(self) -> UUID:
        return demo_id(f"slot/{self.key}")


@dataclass(frozen=True)
class Booking:
    key: str
    slot: str
    organization: str
    headcount: int
    contact: str
    language: str
    status: str
    booked_by: str | None = None
    group: str | None = None
    age_group: str | None = None
    notes: str | None = None
    status_message: str | None = None
    # the roster of a training booking
    trainees: tuple[str, ...] = ()

    @property
    def id(self) -> UUID:
        return demo_id(f"booking/{self.key}")


@dataclass(frozen=True)
class VisitRequest:
    key: str
    lab: str
    organization: str
    requested_by: str | None
    kind: str
    windows: tuple[tuple[datetime, datetime], ...]
    headcount: int
    age_group: str | None
    language: str
    purpose: str
    contact: str
    # Another time the lab's manager offered, waiting for the organization's answer: (start, end, message).
    proposal: tuple[datetime, datetime, str] | None = None

    @property
    def id(self) -> UUID:
        return demo_id(f"visit-request/{self.key}")


@dataclass(frozen=True)
class Story:
    organizations: tuple[Organization, ...]
    labs: tuple[Lab, ...]
    equipment: tuple[Equipment, ...]
    people: tuple[Person, ...]
    series: tuple[Series, ...]
    slots: tuple[Slot, ...]
    bookings: tuple[Booking, ...]
    visit_requests: tuple[VisitRequest, ...]
    holiday: Localized
    holiday_date: date

    def person(self, key: str) -> Person:
        return next(p for p in self.people if p.key == key)

    def seats_taken(self, slot_key: str) -> int:
        """Pending and confirmed headcount: what ``slots.seats_taken`` must say."""
        return sum(
            b.headcount for b in self.bookings if b.slot == slot_key and b.status in ("pending", "confirmed")
        )


MARKER_ORGANIZATION = "satbayev-university"

WEEKDAYS = (1, 2, 3, 4, 5)
_OFFICE = tuple((day, time(9), time(18)) for day in WEEKDAYS)

ORGANIZATIONS = (
    Organization(
        "satbayev-university",
        "host_university",
        _t("Сәтбаев университеті", "Университет Сатпаева", "Satbayev University"),
        "Almaty",
        "KZ",
        "https://satbayev.university",
        _t(
            "Инженерлік зертханалары мектептер мен колледждерге ашық техникалық университет.",
            "Технический университет, открывающий свои лаборатории школам и колледжам.",
            "A technical university that opens its laboratories to schools and colleges.",
        ),
    ),
    Organization(
        "karaganda-technical-university",
        "host_university",
        _t(
            "Қарағанды техникалық университеті",
            "Карагандинский технический университет",
            "Karaganda Technical University",
        ),
        "Karaganda",
        "KZ",
    ),
    Organization(
        "alatau-technical-college",
        "college",
        _t("Алатау техникалық колледжі", "Алатауский технический колледж", "Alatau Technical College"),
        "Almaty",
        "KZ",
        description=_t(
            "Дәнекерлеушілерді даярлайды; университетпен ынтымақтастық меморандумы бар.",
            "Готовит сварщиков; действует меморандум о сотрудничестве с университетом.",
            "Trains welders; works with the university under a cooperation memorandum.",
        ),
    ),
    Organization(
        "saryarka-mining-college",
        "college",
        _t("Сарыарқа тау-кен колледжі", "Сарыаркинский горный колледж", "Saryarka Mining College"),
        "Karaganda",
        "KZ",
    ),
    Organization(
        "zerde-boarding-school",
        "school",
        _t(
            "«Зерде» дарынды балаларға арналған мектеп-интернаты",
            "Школа-интернат для одарённых детей «Зерде»",
            "Zerde Boarding School for Gifted Children",
        ),
        "Almaty",
        "KZ",
    ),
    Organization(
        "danube-institute-of-technology",
        "university",
        _t(
            "Дунай технологиялық институты",
            "Дунайский технологический институт",
            "Danube Institute of Technology",
        ),
        "Linz",
        "AT",
        description=_t(
            "Шетелдік серіктес университет.",
            "Зарубежный университет-партнёр.",
            "Foreign partner university.",
        ),
    ),
    Organization(
        "welding-alumni-club",
        "alumni_group",
        _t("Дәнекерлеушілер түлектер клубы", "Клуб выпускников-сварщиков", "Welding Alumni Club"),
        "Almaty",
        "KZ",
    ),
)

LABS = (
    Lab(
        "welding-institute",
        "satbayev-university",
        _t("Дәнекерлеу институты", "Институт сварки", "Welding Institute"),
        _t(
            "Алты аргонды TIG дәнекерлеу бекеті және плазмалық кескіш.",
            "Шесть постов аргонодуговой сварки TIG и плазменный резак.",
            "Six argon TIG welding stations and a plasma cutter.",
        ),
        "Main building, block B",
        "B-104",
        "Satbayev St 22, Almaty",
        24,
        ("kk", "ru", "en"),
        14,
        _t(
            "Жабық аяқ киім мен мақта киім міндетті; бетперде мен қолғап беріледі.",
            "Обязательна закрытая обувь и хлопковая одежда; маски и перчатки выдаются.",
            "Closed shoes and cotton clothing required; masks and gloves are provided.",
        ),
        "Step-free entrance from the courtyard; lift to all floors.",
        (*_OFFICE, (6, time(10), time(14))),
    ),
    Lab(
        "mining-machinery-lab",
        "satbayev-university",
        _t("Тау-кен машиналары зертханасы", "Лаборатория горных машин", "Mining Machinery Lab"),
        _t(
            "Комбайн мен бұрғылау қондырғысының тренажерлері.",
            "Тренажёры проходческого комбайна и буровой установки.",
            "Roadheader and drilling rig simulators.",
        ),
        "Mining building",
        "M-012",
        "Satbayev St 22, Almaty",
        16,
        ("kk", "ru"),
        12,
        _t("Каска береді.", "Каски выдаются.", "Helmets are provided."),
        "Ground floor.",
        _OFFICE,
    ),
    Lab(
        "metallurgy-lab",
        "satbayev-university",
        _t("Металлургия зертханасы", "Лаборатория металлургии", "Metallurgy Lab"),
        _t(
            "Индукциялық пеш және спектрометр.",
            "Индукционная печь и спектрометр.",
            "Induction furnace and spectrometer.",
        ),
        "Laboratory building",
        "L-210",
        "Satbayev St 22, Almaty",
        30,
        ("kk", "ru", "en"),
        10,
        _t("Пешке жақындамаңыз.", "Не подходите к печи.", "Keep clear of the furnace."),
        "Second floor, lift available.",
        _OFFICE,
    ),
    Lab(
        "mine-ventilation-lab",
        "karaganda-technical-university",
        _t("Кеніш желдету зертханасы", "Лаборатория рудничной вентиляции", "Mine Ventilation Lab"),
        _t(
            "Шахта желдетуінің аэродинамикалық стенді.",
            "Аэродинамический стенд шахтной вентиляции.",
            "Aerodynamic test rig for mine ventilation.",
        ),
        "Building 1",
        "105",
        "Nursultan Nazarbayev Ave 56, Karaganda",
        20,
        ("kk", "ru"),
        12,
        {},
        "Ground floor.",
        tuple((day, time(9), time(17)) for day in WEEKDAYS),
    ),
)

EQUIPMENT = (
    Equipment(
        "welding-institute",
        "argon-tig",
        "argon_tig_welder",
        _t("Аргонды TIG дәнекерлеу бекеті", "Пост аргонодуговой сварки TIG", "Argon TIG welding station"),
        _t(
            "Әр бекетте екі білім алушы жұмыс істейді.",
            "На каждом посту работают двое обучающихся.",
            "Two trainees work at each station.",
        ),
        6,
        2,
        True,
    ),
    Equipment(
        "welding-institute",
        "plasma-cutter",
        "plasma_cutter",
        _t("Плазмалық кескіш", "Плазменный резак", "Plasma cutter"),
        {},
        2,
        1,
        True,
    ),
    Equipment(
        "mining-machinery-lab",
        "roadheader-simulator",
        "mining_simulator",
        _t("Комбайн тренажері", "Тренажёр проходческого комбайна", "Roadheader simulator"),
        {},
        1,
        4,
        False,
    ),
    Equipment(
        "metallurgy-lab",
        "induction-furnace",
        "induction_furnace",
        _t("Индукциялық пеш", "Индукционная печь", "Induction furnace"),
        {},
        1,
        6,
        True,
    ),
)

# Published in the README and printed by `labbook demo`: anyone may use them, which is why the demo
# must never be loaded into a database that holds real data.
DEMO_TOKENS = {
    "admin": "lbk_demo_admin",
    "manager": "lbk_demo_manager",
    "director": "lbk_demo_director",
    "director2": "lbk_demo_director2",
    "instructor": "lbk_demo_instructor",
}

PEOPLE = (
    Person(
        "admin",
        "satbayev-university",
        "admin@labbook.demo",
        "Әсел Төлегенова",
        ("admin",),
        "+7 727 000 00 01",
    ),
    Person(
        "manager",
        "satbayev-university",
        "manager@labbook.demo",
        "Ерлан Жұмабаев",
        ("lab_manager",),
        "+7 727 000 00 02",
        labs=("welding-institute",),
    ),
    Person(
        "instructor",
        "satbayev-university",
        "instructor@labbook.demo",
        "Данияр Сейтқали",
        ("instructor",),
    ),
    Person(
        "director",
        "alatau-technical-college",
        "director@labbook.demo",
        "Марина Ковалёва",
        ("director",),
        "+7 701 000 00 03",
        language="ru",
    ),
    Person(
        "director2",
        "zerde-boarding-school",
        "director2@labbook.demo",
        "Гүлнар Омарова",
        ("director",),
        "+7 701 000 00 04",
    ),
    Person(
        "mining-director", "saryarka-mining-college", "mining@labbook.demo", "Нұрлан Әбенов", ("director",)
    ),
    Person(
        "partner",
        "danube-institute-of-technology",
        "partner@labbook.demo",
        "Lena Hartmann",
        ("director",),
        language="en",
    ),
    Person("alumni", "welding-alumni-club", "alumni@labbook.demo", "Тимур Ахметов", ("director",)),
)

# Fixed-date public holidays of Kazakhstan; the first one on a weekday becomes the demo closure.
HOLIDAYS: tuple[tuple[int, int, Localized], ...] = (
    (1, 1, _t("Жаңа жыл", "Новый год", "New Year")),
    (1, 2, _t("Жаңа жыл", "Новый год", "New Year")),
    (1, 7, _t("Православиелік Рождество", "Рождество Христово", "Orthodox Christmas")),
    (3, 8, _t("Халықаралық әйелдер күні", "Международный женский день", "International Women's Day")),
    (3, 21, _t("Наурыз мейрамы", "Наурыз мейрамы", "Nauryz")),
    (3, 22, _t("Наурыз мейрамы", "Наурыз мейрамы", "Nauryz")),
    (3, 23, _t("Наурыз мейрамы", "Наурыз мейрамы", "Nauryz")),
    (5, 1, _t("Қазақстан халқының бірлігі мерекесі", "Праздник единства народа Казахстана", "Unity Day")),
    (5, 7, _t("Отан қорғаушы күні", "День защитника Отечества", "Defender of the Fatherland Day")),
    (5, 9, _t("Жеңіс күні", "День Победы", "Victory Day")),
    (7, 6, _t("Астана күні", "День столицы", "Capital Day")),
    (8, 30, _t("Конституция күні", "День Конституции", "Constitution Day")),
    (10, 25, _t("Республика күні", "День Республики", "Republic Day")),
    (12, 16, _t("Тәуелсіздік күні", "День Независимости", "Independence Day")),
)

SERIES_OCCURRENCES = 12


def next_holiday(after: date) -> tuple[date, Localized]:
    """The first fixed-date public holiday on or after ``after`` that falls on a weekday."""
    for year in (after.year, after.year + 1):
        for month, day, name in HOLIDAYS:
            candidate = date(year, month, day)
            if candidate >= after and candidate.isoweekday() <= 5:
                return candidate, name
    raise AssertionError("every year has a weekday holiday")


def is_holiday(day: date) -> bool:
    return any((day.month, day.day) == (month, dom) for month, dom, _ in HOLIDAYS)


def _local(day: date, hhmm: str) -> datetime:
    return datetime.combine(day, time.fromisoformat(hhmm), tzinfo=_TZ).astimezone(UTC)


def build_story(now: datetime) -> Story:
    """The demo rows for a first load at ``now`` (an aware datetime)."""
    today = now.astimezone(_TZ).date()
    monday = today + timedelta(days=7 - today.weekday())
    holiday_date, holiday = next_holiday(monday)

    def day(week: int, *weekdays: int) -> date:
        """The first of ``weekdays`` (ISO) in ``week`` that is not a public holiday, else a week later."""
        for offset in (week, week + 1):
            for weekday in weekdays:
                candidate = monday + timedelta(weeks=offset, days=weekday - 1)
                if not is_holiday(candidate):
                    return candidate
        raise AssertionError("no two weeks in a row are all holidays")

    def window(week: int, weekdays: tuple[int, ...], start: str, end: str) -> tuple[datetime, datetime]:
        d = day(week, *weekdays)
        return _local(d, start), _local(d, end)

    slots: list[Slot] = []
    bookings: list[Booking] = []

    def one_off(key: str, lab: str, kind: str, when: tuple[datetime, datetime], **fields: Any) -> str:
        starts_at, ends_at = when
        fields.setdefault(
            "booking_deadline", starts_at - timedelta(days=1) if kind != "maintenance" else None
        )
        slots.append(Slot(key, lab, kind, starts_at=starts_at, ends_at=ends_at, **fields))
        return key

    tig = tuple(("argon-tig", n) for n in range(1, 7))

    open_day = one_off(
        "welding-open-day",
        "welding-institute",
        "tour",
        window(0, (3, 4), "10:00", "11:30"),
        title=_t("Дәнекерлеу институтына экскурсия", "Экскурсия в Институт сварки", "Welding Institute tour"),
        description=_t(
            "TIG дәнекерлеуді көрсету және бекеттермен танысу.",
            "Показ сварки TIG и знакомство с постами.",
            "A TIG welding demonstration and a walk past the stations.",
        ),
        capacity=20,
        requires_approval=True,
        created_by="manager",
    )
    # In the order they were made: the manager declined the first request, confirmed the next, one
    # group cancelled and the last still waits for an answer.
    bookings += [
        Booking(
            "open-day-danube",
            open_day,
            "danube-institute-of-technology",
            10,
            "Lena Hartmann",
            "en",
            "declined",
            booked_by="partner",
            status_message="Ten is too many for this tour; please join the English tour later this month.",
        ),
        Booking(
            "open-day-alatau",
            open_day,
            "alatau-technical-college",
            12,
            "Марина Ковалёва",
            "ru",
            "confirmed",
            booked_by="director",
            age_group="16–18",
        ),
        Booking(
            "open-day-alumni",
            open_day,
            "welding-alumni-club",
            4,
            "Тимур Ахметов",
            "en",
            "cancelled",
            booked_by="alumni",
            status_message="Plans changed; we will join the round table instead.",
        ),
        Booking(
            "open-day-saryarka",
            open_day,
            "saryarka-mining-college",
            6,
            "Нұрлан Әбенов",
            "kk",
            "pending",
            booked_by="mining-director",
            age_group="17–19",
            notes="Автобус 09:40-та келеді.",
        ),
    ]

    intro = one_off(
        "tig-introduction",
        "welding-institute",
        "training",
        window(1, (4, 3), "10:00", "13:00"),
        title=_t(
            "Аргонды дәнекерлеуге кіріспе", "Введение в аргонодуговую сварку", "Introduction to TIG welding"
        ),
        description=_t(
            "Қауіпсіздік нұсқамасы және алғашқы жіктер.",
            "Инструктаж по технике безопасности и первые швы.",
            "Safety induction and first welds.",
        ),
        capacity=6,
        requires_approval=True,
        instructor="instructor",
        created_by="manager",
        units=tig[:3],
        is_induction=True,
    )
    bookings.append(
        Booking(
            "intro-saryarka",
            intro,
            "saryarka-mining-college",
            4,
            "Нұрлан Әбенов",
            "kk",
            "pending",
            booked_by="mining-director",
            age_group="17–19",
            trainees=("Ерлан Сапаров", "Айдана Жұмабекова", "Дәурен Қасымов", "Мадина Ахметова"),
        )
    )

    # Two TIG stations out for a morning in the week after next: a weekly series on all six stations
    # that weekday (Monday, unless a holiday moves it) collides with it once.
    one_off(
        "tig-maintenance",
        "welding-institute",
        "maintenance",
        window(1, (1, 3), "09:00", "13:00"),
        title=_t(
            "Екі TIG бекетіне техникалық қызмет",
            "Техобслуживание двух постов TIG",
            "Maintenance of two TIG stations",
        ),
        description=_t("Горелкаларды ауыстыру.", "Замена горелок.", "Torch replacement."),
        capacity=0,
        created_by="manager",
        units=tig[4:],
    )

    round_table = one_off(
        "welding-round-table",
        "welding-institute",
        "event",
        window(2, (6,), "10:00", "13:00"),
        title=_t(
            "Дөңгелек үстел: дәнекерлеушінің мансабы",
            "Круглый стол: карьера сварщика",
            "Round table: careers in welding",
        ),
        description=_t(
            "Түлектер мен колледж студенттерінің кездесуі.",
            "Встреча выпускников и студентов колледжей.",
            "Alumni meet college students.",
        ),
        capacity=24,
        created_by="manager",
    )
    bookings.append(
        Booking(
            "round-table-alumni",
            round_table,
            "welding-alumni-club",
            8,
            "Тимур Ахметов",
            "ru",
            "confirmed",
            booked_by="alumni",
        )
    )

    one_off(
        "welding-english-tour",
        "welding-institute",
        "tour",
        window(3, (3, 4), "10:00", "11:30"),
        title=_t(
            "Ағылшын тіліндегі экскурсия", "Экскурсия на английском", "Welding Institute tour in English"
        ),
        description={},
        capacity=20,
        created_by="manager",
    )

    full_tour = one_off(
        "mining-tour",
        "mining-machinery-lab",
        "tour",
        window(0, (5, 4), "15:00", "16:30"),
        title=_t("Тау-кен машиналары: экскурсия", "Горные машины: экскурсия", "Mining machinery tour"),
        description=_t("Тренажерде жұмыс.", "Работа на тренажёре.", "Hands-on simulator session."),
        capacity=15,
        created_by="admin",
    )
    bookings += [
        Booking(
            "mining-tour-zerde",
            full_tour,
            "zerde-boarding-school",
            15,
            "Гүлнар Омарова",
            "kk",
            "confirmed",
            booked_by="director2",
            age_group="14–16",
        ),
        Booking(
            "mining-tour-alatau",
            full_tour,
            "alatau-technical-college",
            10,
            "Марина Ковалёва",
            "ru",
            "waitlisted",
            booked_by="director",
            age_group="16–18",
        ),
    ]
    one_off(
        "mining-open-tour",
        "mining-machinery-lab",
        "tour",
        window(2, (3, 2), "11:00", "12:30"),
        title=_t("Тау-кен машиналары: экскурсия", "Горные машины: экскурсия", "Mining machinery tour"),
        description={},
        capacity=15,
        created_by="admin",
    )

    private_tour = one_off(
        "metallurgy-zerde",
        "metallurgy-lab",
        "tour",
        window(1, (5, 4), "10:00", "12:00"),
        title=_t(
            "«Зерде» оқушыларына арналған металлургия",
            "Металлургия для учеников «Зерде»",
            "Metallurgy for Zerde pupils",
        ),
        description={},
        capacity=25,
        visibility="private",
        organization="zerde-boarding-school",
        created_by="admin",
    )
    bookings.append(
        Booking(
            "metallurgy-zerde",
            private_tour,
            "zerde-boarding-school",
            22,
            "Гүлнар Омарова",
            "kk",
            "confirmed",
            booked_by="director2",
            age_group="14–16",
        )
    )
    partner_tour = one_off(
        "metallurgy-tour",
        "metallurgy-lab",
        "tour",
        window(3, (4, 3), "15:00", "16:30"),
        title=_t("Металлургия зертханасы", "Лаборатория металлургии", "Metallurgy lab tour"),
        description={},
        capacity=25,
        requires_approval=True,
        created_by="admin",
    )
    bookings.append(
        Booking(
            "metallurgy-danube",
            partner_tour,
            "danube-institute-of-technology",
            9,
            "Lena Hartmann",
            "en",
            "pending",
            booked_by="partner",
            notes="Delegation of nine; an English-speaking guide, please.",
        )
    )

    one_off(
        "ventilation-tour",
        "mine-ventilation-lab",
        "tour",
        window(1, (2, 3), "10:00", "11:30"),
        title=_t("Кеніш желдету стенді", "Стенд рудничной вентиляции", "Mine ventilation rig"),
        description={},
        capacity=20,
        created_by="admin",
    )

    for lab in ("welding-institute", "mining-machinery-lab", "metallurgy-lab"):
        # The closure blocks the lab's opening window that day: the only time anything could be booked.
        slots.append(
            Slot(
                f"closure-{lab}",
                lab,
                "closure",
                title=holiday,
                description=_t(
                    "Мереке күні жабық.", "Закрыто: праздничный день.", "Closed for the public holiday."
                ),
                starts_at=_local(holiday_date, "09:00"),
                ends_at=_local(holiday_date, "18:00"),
                capacity=0,
                created_by="admin",
            )
        )

    first_tuesday = monday + timedelta(days=1)
    series = Series(
        "welding-weekly",
        "welding-institute",
        "training",
        _t(
            "Аргонды дәнекерлеу: апталық практика",
            "Аргонодуговая сварка: еженедельная практика",
            "Argon TIG welding: weekly practice",
        ),
        _t(
            "Колледж студенттеріне арналған семестрлік курс: әр сейсенбі, алты аргон бекеті.",
            "Семестровый курс для студентов колледжей: каждый вторник, шесть аргонных постов.",
            "A term-long course for college students: every Tuesday, six argon stations.",
        ),
        datetime.combine(first_tuesday, time(14)),
        timedelta(hours=3),
        (2,),
        SERIES_OCCURRENCES,
        12,
        "instructor",
        "manager",
        True,
    )
    tuesdays = [first_tuesday + timedelta(weeks=i) for i in range(SERIES_OCCURRENCES)]
    cancelled = tuesdays.index(holiday_date) if holiday_date in tuesdays else 3
    moved = 5 if cancelled != 5 else 6
    for index, tuesday in enumerate(tuesdays):
        key = f"welding-weekly-{index + 1:02d}"
        original = _local(tuesday, "14:00")
        starts_at, ends_at = original, _local(tuesday, "17:00")
        status, description = "active", series.description
        if index == moved:
            starts_at, ends_at = window(index, (4, 3), "14:00", "17:00")
            description = _t(
                "Осы аптада бейсенбіге ауыстырылды.",
                "На этой неделе перенесено на четверг.",
                "Moved to Thursday this week.",
            )
        if index == cancelled:
            status = "cancelled"
        slots.append(
            Slot(
                key,
                series.lab,
                series.kind,
                series.title,
                description,
                starts_at,
                ends_at,
                series.capacity,
                "manager",
                booking_deadline=starts_at - timedelta(days=1),
                requires_approval=True,
                instructor="instructor",
                status=status,
                series=series.key,
                occurrence_start=original,
                units=tig,
            )
        )
        bookings.append(
            Booking(
                key,
                key,
                "alatau-technical-college",
                10,
                "Марина Ковалёва",
                "ru",
                "cancelled" if index == cancelled else "confirmed",
                booked_by="director",
                group="welding-weekly-alatau",
                age_group="17–19",
                status_message=(
                    "Сабақ өтпейді / Занятие отменено / The session is cancelled."
                    if index == cancelled
                    else None
                ),
            )
        )

    visit = VisitRequest(
        "zerde-welding",
        "welding-institute",
        "zerde-boarding-school",
        "director2",
        "training",
        (window(4, (3, 4), "10:00", "13:00"), window(4, (5, 4), "10:00", "13:00")),
        8,
        "15–16",
        "kk",
        "Физика үйірмесінің оқушылары дәнекерлеуді көріп, өздері байқап көргісі келеді.",
        "Гүлнар Омарова",
    )
    # The college asked for two mornings; the lab has a group then and offers an afternoon instead.
    counter = VisitRequest(
        "alatau-tour",
        "welding-institute",
        "alatau-technical-college",
        "director",
        "tour",
        (window(5, (2,), "10:00", "11:30"), window(5, (5,), "10:00", "11:30")),
        15,
        "16–17",
        "ru",
        "Студенты первого курса хотят увидеть сварочные посты перед практикой.",
        "Марина Ковалёва",
        proposal=(
            *window(5, (2,), "15:00", "16:30"),
            "Утром в эти дни у нас занятия. Можем принять вас во вторник после обеда.",
        ),
    )

    return Story(
        organizations=ORGANIZATIONS,
        labs=LABS,
        equipment=EQUIPMENT,
        people=PEOPLE,
        series=(series,),
        slots=tuple(slots),
        bookings=tuple(bookings),
        visit_requests=(visit, counter),
        holiday=holiday,
        holiday_date=holiday_date,
    )
