"""Chrome: https://developers.google.com/data-portability/schema-reference/chrome

Only the page's first objects could be read: "Addresses and more" (JSON: ``Autofill Profile``,
``Contact Info`` and ``Autofill``), "Bookmarks" (HTML) and "History" (JSON, field table cut
off). The rest follows the ``Chrome/`` folder of real Takeout exports as open-source importers read
it: ``History.json`` (``"Browser History"`` with ``title``, ``url``, ``time_usec``,
``page_transition``, ``client_id``, ``favicon_url``), ``Addresses and more.json`` (profiles keyed by
Chromium's sync proto fields: ``name_first[0]``, ``email_address[0]``, ``address_home_*``),
``Bookmarks.html`` and ``Reading List.html`` (Netscape bookmark files, ``<a href add_date>``),
``Dictionary.csv`` (one word per line, no header), ``Extensions.json`` (``"Extensions"`` with
``name``, ``version``, ``id``, ``enabled``, ``incognito_enabled``, ``remote_install``) and
``Settings.json`` (``"Preferences"`` of ``{name, value}``).
"""

from . import PAGE, Csv, Group, Html, Json

PAGE_URL = PAGE + "chrome"


GROUPS = {
    "chrome.autofill": Group(
        PAGE_URL,
        {
            "Chrome/Addresses and more.json": Json(
                {
                    "guid": str,
                    "use_count": int,
                    "use_date": int,
                    "name_first": list,
                    "name_last": list,
                    "name_full": list,
                    "email_address": list,
                    "phone_home_whole_number": list,
                    "address_home_line1": str,
                    "address_home_street_address": str,
                    "address_home_city": str,
                    "address_home_zip": str,
                    "address_home_country": str,
                },
                {"company_name": str, "address_home_line2": str},
                records=("Autofill Profile",),
            )
        },
    ),
    "chrome.bookmarks": Group(
        PAGE_URL,
        {"Chrome/Bookmarks.html": Html(tags={"title", "h1", "dl", "dt", "h3", "a"}, links={"href", "add_date"})},
    ),
    "chrome.dictionary": Group(PAGE_URL, {"Chrome/Dictionary.csv": Csv(None, columns=1)}),
    "chrome.extensions": Group(
        PAGE_URL,
        {
            "Chrome/Extensions.json": Json(
                {
                    "name": str,
                    "id": str,
                    "version": str,
                    "enabled": bool,
                    "incognito_enabled": bool,
                    "remote_install": bool,
                },
                records=("Extensions",),
            )
        },
    ),
    "chrome.history": Group(
        PAGE_URL,
        {
            "Chrome/History.json": Json(
                {"title": str, "url": str, "page_transition": str, "client_id": str, "time_usec": int},
                {"favicon_url": str},
                records=("Browser History",),
            )
        },
    ),
    "chrome.reading_list": Group(
        PAGE_URL,
        {"Chrome/Reading List.html": Html(tags={"title", "h1", "dl", "dt", "a"}, links={"href", "add_date"})},
    ),
    "chrome.settings": Group(
        PAGE_URL,
        {"Chrome/Settings.json": Json({"name": str, "value": str}, records=("Preferences",))},
    ),
}
