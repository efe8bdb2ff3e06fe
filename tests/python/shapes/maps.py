"""Maps, Maps (your places), My Maps and Street View.

Pages: https://developers.google.com/data-portability/schema-reference/maps (only its first
objects could be read), .../local_actions ("Maps (your places)": Reviews, Starred places),
.../mymaps and .../streetview. Where a page's field table was not read, the file is Takeout's as
open-source importers read real exports (cited per group); where nothing is known, only the file
and its framing are expected, not guessed keys. Data Portability's folders are Takeout's below
``Portability/``.
"""

from . import PAGE, GeoJson, Group, Json, Media

MAPS = PAGE + "maps"
LOCAL_ACTIONS = PAGE + "local_actions"

# local_actions: the place a contribution is for (documented as "array of object"; real files
# hold one object). `country_code` is often missing in real files.
LOCATION = {"location.name": str, "location.address": str}

GROUPS = {
    # maps, "Aliased Places": features[].geometry and properties.{name, address?} (the page's
    # `feature.property` is `properties` in real files). Path: Takeout, as
    # azeezada/google-maps-saved and schackartk/google_mapper read it.
    "maps.aliased_places": Group(
        MAPS,
        {"Maps/My labeled places/Labeled places.json": GeoJson({"name": str}, {"address": str})},
    ),
    # maps (table not read). Takeout's `Commute routes.json` (azeezada/google-maps-saved's real
    # file and parsers): {"trips": [{id, place_visit[], transition[]}]}.
    "maps.commute_routes": Group(
        MAPS,
        {
            "Maps/Commute routes/Commute routes.json": Json(
                {
                    "id": str,
                    "place_visit[].id": str,
                    "transition[].route.travel_mode": str,
                    "transition[].origin.visit_id": str,
                    "transition[].destination.visit_id": str,
                },
                {
                    "place_visit[].place.lat_lng.latitude": "number",
                    "place_visit[].place.lat_lng.longitude": "number",
                    "place_visit[].place.semantic_type": str,
                    "transition[].route.transit.route.leg[].mode": str,
                    "transition[].route.transit.route.leg[].destination": str,
                },
                records=("trips",),
            )
        },
    ),
    # maps (table not read); no real file seen: a JSON array in Takeout's naming (a guess), no
    # keys expected.
    "maps.commute_settings": Group(MAPS, {"Maps/Commute settings/Commute settings.json": Json({})}),
    # maps (table not read). Folder and file: a real export's listing; keys unknown.
    "maps.ev_profile": Group(
        MAPS, {"Maps/Electric vehicle settings/Electric vehicle settings.json": Json({})}
    ),
    # maps, "Answers to automated questions" (JSON; table cut off). Takeout, as
    # 14_parse_automated_answers.py reads it: one <epoch ms>.json object per answer.
    "maps.factual_contributions": Group(
        MAPS,
        {
            "Maps/Answers to automated questions/*.json": Json(
                {"placeUrl": str, "question": str, "selectedChoice": str}, records=None
            )
        },
    ),
    # maps, "Added dishes, products, activities." (current field names); the `contributions`
    # wrapper as two importers read the real file.
    "maps.offering_contributions": Group(
        MAPS,
        {
            "Maps/Added dishes, products, activities/Added dishes, products, activities.json": Json(
                {"photo_url": str, "text": str, "created": "timestamp"}, records=("contributions",)
            )
        },
    ),
    # maps (JPG/PNG/MP4; table not read). Takeout's `Photos and videos/`: media with a
    # `<file name>.json` sidecar each (querencia's fixture; gen-maps-places.mjs).
    "maps.photos_videos": Group(
        MAPS,
        {
            "Maps/Photos and videos/*.jpg": Media("jpeg"),
            "Maps/Photos and videos/*.mp4": Media("mp4"),
            "Maps/Photos and videos/*.json": Json(
                {"title": str, "creationTime.timestamp": str, "creationTime.formatted": str},
                {
                    "photoTakenTime.timestamp": str,
                    "photoTakenTime.formatted": str,
                    "geoDataExif.latitude": "number",
                    "geoDataExif.longitude": "number",
                    "geoDataExif.altitude": "number",
                    "geoData.latitude": "number",
                    "geoData.longitude": "number",
                    "imageViews": (str, int),
                },
                records=None,
            ),
        },
    ),
    # maps (table not read). A real export's listing and gen-maps-places.mjs: {"answers": [...]};
    # the answers' keys are unknown.
    "maps.questions_answers": Group(
        MAPS,
        {"Maps/Questions and Answers/Questions and Answers.json": Json({}, records=("answers",))},
    ),
    # local_actions, "Reviews" (GeoJSON); keys past the page's cut-off as
    # azeezada/google-maps-saved's real Reviews.json has them. Takeout's folder is
    # "Maps (your places)".
    "maps.reviews": Group(
        LOCAL_ACTIONS,
        {
            "Maps (your places)/Reviews.json": GeoJson(
                {"date": "timestamp", "google_maps_url": str, **LOCATION},
                {
                    "five_star_rating_published": int,
                    "five_star_rating_draft": int,
                    "review_text_published": str,
                    "location.country_code": str,
                    "questions[].question": str,
                    "questions[].rating": int,
                    "questions[].selected_option": str,
                    "questions[].selected_options": list,
                },
            )
        },
    ),
    # local_actions, "Starred places" (GeoJSON, all fields read). Takeout's
    # `Saved Places.json`: `Comment` instead of `location` where Google has no place data
    # (azeezada/google-maps-saved's real file).
    "maps.starred_places": Group(
        LOCAL_ACTIONS,
        {
            "Maps (your places)/Saved Places.json": GeoJson(
                {"date": "timestamp", "google_maps_url": str},
                {**LOCATION, "location.country_code": str, "Comment": str},
            )
        },
    ),
    # maps (table not read). Takeout's folder `Vehicle profiles/` (frankweiler's notes); the file
    # name and keys are unknown.
    "maps.vehicle_profile": Group(MAPS, {"Maps/Vehicle profiles/*.json": Json({})}),
    # mymaps, "Map": a KMZ with doc.kml. Takeout: `My Maps/<Map name>/<Map name>.kmz` (a KMZ
    # parser's fixture).
    "mymaps.maps": Group(PAGE + "mymaps", {"My Maps/*/*.kmz": Media("kmz")}),
    # streetview: "Uploaded 360 Image", "Video" and "Sensor data" (JSON: gps_track of latitude,
    # longitude, altitude if present, capture_time). File names are not documented; any JPEG,
    # MP4 and JSON in the folder is checked. `altitude` ("if present") is not expected of every
    # upload, so it is not listed.
    "streetview.imagery": Group(
        PAGE + "streetview",
        {
            "Street View/*.jpg": Media("jpeg"),
            "Street View/*.mp4": Media("mp4"),
            "Street View/*.json": Json(
                {
                    "gps_track[].latitude": "number",
                    "gps_track[].longitude": "number",
                    "gps_track[].capture_time": "timestamp",
                },
                records=None,
            ),
        },
    ),
}
