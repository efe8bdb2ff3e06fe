"""Search Contributions, Search Notifications, Discover, Saved and Google Alerts.

- https://developers.google.com/data-portability/schema-reference/search_ugc: "Thumbs" and
  "Reviews" are JSON arrays of flat objects with Title-Case keys (``Published``, ``Search Query``,
  ``Thumbs Rating``, ``Review Star Rating``, ``Review Comment``, ``Updated``). The tables of
  "Comments on Search", "Streaming video providers" and "Watched" could not be read; real Takeout
  files (``Search Contributions/<object>.json``), as RLEAPP's ``takeoutSearchContributions`` reads
  them, have ``Provider Name``/``Published`` and ``Published``/``Search Query``. The comment's own
  key is a guess (``Comment``).
- https://developers.google.com/data-portability/schema-reference/search_notifications: two CSV
  objects; the last two configuration columns and the subscription state column were read only
  in translation (their English names are back-translated).
- https://developers.google.com/data-portability/schema-reference/discover: CSV objects
  "Your Follows" (``followed_entity``) and "Not Interested Setting" (``entity_name``,
  ``setting_value``); "Your Likes" has no documented format (guess: ``title,url``).
- https://developers.google.com/data-portability/schema-reference/save: one CSV per collection
  (``Saved/<collection>.csv`` in Takeout) with ``title``, ``note``, ``item_content_url`` (later
  columns unreadable; ``comment`` is a guess from "comments of the saved item"). A collection's
  description, when present, is the first line followed by a blank line (``Saved/Recipes.csv``
  has one).
- https://developers.google.com/data-portability/schema-reference/alerts: JSON object "Your
  Google Alerts subscriptions" (file name and array framing not documented).

Where a page names an object but not its file, the file is named after the object, as real
exports name theirs.
"""

from . import PAGE, Csv, Group, Json

UGC = PAGE + "search_ugc"
NOTIFICATIONS = PAGE + "search_notifications"
DISCOVER = PAGE + "discover"
SAVED_COLUMNS = ["title", "note", "item_content_url", "comment"]


def ugc(file: str, fields: dict, optional: dict | None = None) -> Group:
    return Group(UGC, {f"Search Contributions/{file}": Json(fields, optional or {})})


GROUPS = {
    "alerts.subscriptions": Group(
        PAGE + "alerts",
        {
            "Google Alerts/Your Google Alerts subscriptions.json": Json(
                {
                    "query": str,
                    "language": str,
                    "country": str,
                    "apply_language_restrict": bool,
                    "apply_region_restrict": bool,
                    "source": list,
                    "quality": list,
                    "delivery_method": str,
                },
                {"delivery_frequency": str, "delivery_time": dict, "email_address": str},
            )
        },
    ),
    "discover.follows": Group(DISCOVER, {"Discover/Your Follows.csv": Csv(["followed_entity"])}),
    "discover.likes": Group(DISCOVER, {"Discover/Your Likes.csv": Csv(["title", "url"], {"url": "url"})}),
    "discover.not_interested": Group(
        DISCOVER, {"Discover/Not Interested Setting.csv": Csv(["entity_name", "setting_value"])}
    ),
    "saved.collections": Group(
        PAGE + "save",
        {
            f"Saved/{name}.csv": Csv(SAVED_COLUMNS, {"item_content_url": "url"}, preamble=preamble)
            for name, preamble in (("Favourite places", 0), ("Want to go", 0), ("Recipes", 1), ("Gift ideas", 0))
        },
    ),
    "search_ugc.comments": ugc(
        "Comments.json",
        {"Published": "timestamp", "Search Query": str, "Comment": str},
        {"Updated": "timestamp"},
    ),
    "search_ugc.media.reviews_and_stars": ugc(
        "Reviews.json",
        {"Published": "timestamp", "Review Star Rating": str, "Search Query": str},
        {"Review Comment": str, "Updated": "timestamp"},
    ),
    "search_ugc.media.streaming_video_providers": ugc(
        "Streaming video providers.json", {"Provider Name": str, "Published": "timestamp"}
    ),
    "search_ugc.media.thumbs": ugc(
        "Thumbs.json",
        {"Published": "timestamp", "Search Query": str, "Thumbs Rating": str, "Updated": "timestamp"},
    ),
    "search_ugc.media.watched": ugc("Watched.json", {"Published": "timestamp", "Search Query": str}),
    "searchnotifications.settings": Group(
        NOTIFICATIONS,
        {
            "Search Notifications/Your Notification Configurations.csv": Csv(
                [
                    "Scope Identifier",
                    "Opt In State",
                    "Channel Importance",
                    "Badge",
                    "Sound",
                    "Alerts",
                    "Critical Alerts",
                    "Time Sensitive",
                    "Notification Center",
                    "Displayed on Lock Screen",
                    "Accepts Scheduled Delivery",
                    "Live Activities",
                    "Location Usage Allowed",
                ]
            )
        },
    ),
    "searchnotifications.subscriptions": Group(
        NOTIFICATIONS,
        {
            "Search Notifications/Your Notification Subscriptions.csv": Csv(
                ["Subscription Identifier", "Subscription State"]
            )
        },
    ),
}
