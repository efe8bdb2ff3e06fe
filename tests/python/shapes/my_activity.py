"""My Activity: https://developers.google.com/data-portability/schema-reference/my_activity

Activity records in ``My Activity/<Product>/MyActivity.json``, a JSON array. The page types
``subtitles``, ``details``, ``locationInfos`` and ``activityControls`` as strings; real exports
hold lists (of objects, or of strings for ``products`` and ``activityControls``), which is what
importers read, so that is what is expected here.
"""

from . import PAGE, Group, Json

PAGE_URL = PAGE + "my_activity"

# The documented fields every record has. Optional fields are listed per product where the
# product writes them often enough to occur among the test's records (the check requires each to
# occur at least once); `subtitles` and `details` are YouTube's, `locationInfos` Maps' and Search's.
REQUIRED = {"header": str, "title": str, "time": "timestamp", "products": list, "activityControls": list}
LINK = {"titleUrl": str}
SUBTITLES = {"subtitles[].name": str, "subtitles[].url": str}
LOCATION = {"locationInfos[].name": str, "locationInfos[].url": str, "locationInfos[].source": str}
DESCRIPTION = {"description": str}
DETAILS = {"details[].name": str}


def activity(folder: str, optional: dict) -> dict:
    return {f"My Activity/{folder}/MyActivity.json": Json(REQUIRED, optional)}


GROUPS = {
    "myactivity.maps": Group(PAGE_URL, activity("Maps", LINK | DESCRIPTION | LOCATION)),
    "myactivity.myadcenter": Group(PAGE_URL, activity("My Ad Center", LINK | DETAILS)),
    "myactivity.play": Group(PAGE_URL, activity("Google Play Store", LINK)),
    # Image and video searches are a tenth of the records each: only what every record has.
    "myactivity.search": Group(
        PAGE_URL,
        activity("Search", LINK | LOCATION) | activity("Image Search", LINK) | activity("Video Search", LINK),
    ),
    "myactivity.shopping": Group(PAGE_URL, activity("Shopping", LINK | DESCRIPTION)),
    "myactivity.youtube": Group(PAGE_URL, activity("YouTube", LINK | SUBTITLES)),
}
