"""Google Play Store, Nest, Google Shopping, Purchases & Reservations and Pixel.

Pages: https://developers.google.com/data-portability/schema-reference/play, ``…/nest``,
``…/shopping``, ``…/my_orders`` and ``…/pixel_telemetry``. None of them names a file, and only
some give fields; the rest comes from Google Takeout as open-source importers read it:

- Google Play (``Google Play Store/``): every file is a JSON array of one-key wrappers,
  ``[{"install": {...}}]``, ``[{"libraryDoc": {...}}]``, … (ALEAPP/RLEAPP ``playstore_*``,
  google_takeout_parser, a Go and a Dart purchase parser); file names ``Installs.json``,
  ``Library.json``, ``Purchase History.json``, ``Order History.json``, ``Subscriptions.json``,
  ``Devices.json``, ``Redemption History.json``, ``Promotion History.json``. Prices are strings
  with a currency symbol; times RFC 3339 UTC.
- Nest: the page gives formats only (camera_event JSON, MP4, JPG; camera_video MP4; the rest
  JSON). Takeout keeps camera footage in ``Nest/camera/<CAMERA_ID>/video/<YYYY-MM-DD>/…mp4``.
- Shopping reviews: CSV with the page's fields as columns, in Takeout's ``Product Reviews/`` and
  ``Merchant Reviews/`` folders.
- Purchases & Reservations: the page's Purchases fields; Takeout writes one JSON object per file
  (``Reservations/action_<id>.json``).

Where nothing is documented (Play Points, grouping tags, user settings, promotions' fields, Nest
fields, Shopping addresses, Pixel), the expectation is only a plausible file of records in the
product's folder, marked GUESS below: such checks hold the emulator to its own choice, not to
Google.
"""

from . import PAGE, Csv, Group, Json, Media

PLAY = PAGE + "play"
NEST = PAGE + "nest"
SHOPPING = PAGE + "shopping"
MY_ORDERS = PAGE + "my_orders"
PIXEL = PAGE + "pixel_telemetry"

DOC = {"doc.documentType": str, "doc.title": str}


def play(wrapper: str, fields: dict, optional: dict | None = None) -> Json:
    """A Google Play file: records wrapped as ``{wrapper: {...}}``."""
    return Json(fields, optional or {}, wrapper=wrapper)


GROUPS = {
    # Installs [DOC: doc, deviceAttribute, firstInstallationTime, lastUpdateTime]; sub-fields and
    # the wrapper as google_takeout_parser's real sample has them (model and carrier optional).
    "play.installs": Group(
        PLAY,
        {
            "Google Play Store/Installs.json": play(
                "install",
                {
                    **DOC,
                    "deviceAttribute": dict,
                    "deviceAttribute.manufacturer": str,
                    "deviceAttribute.deviceDisplayName": str,
                    "firstInstallationTime": "timestamp",
                    "lastUpdateTime": "timestamp",
                },
                {"deviceAttribute.model": str, "deviceAttribute.carrier": str},
            )
        },
    ),
    # Library [DOC: doc, acquisitionTime]; wrapper `libraryDoc` (ALEAPP).
    "play.library": Group(
        PLAY,
        {
            "Google Play Store/Library.json": play(
                "libraryDoc", {**DOC, "acquisitionTime": "timestamp"}
            )
        },
    ),
    # Purchases [DOC: doc, then price, state, payment method, time; table not readable]; Takeout
    # writes `Purchase History.json` (ALEAPP) and `Order History.json` (Go tool, Dart parser).
    "play.purchases": Group(
        PLAY,
        {
            "Google Play Store/Purchase History.json": play(
                "purchaseHistory",
                {**DOC, "invoicePrice": str, "userCountry": str, "purchaseTime": "timestamp"},
                {"paymentMethodTitle": str},
            ),
            "Google Play Store/Order History.json": play(
                "orderHistory",
                {
                    "orderId": str,
                    "creationTime": "timestamp",
                    "ipAddress": str,
                    "ipCountry": str,
                    "totalPrice": str,
                    "tax": str,
                    "refundAmount": str,
                    "preorder": bool,
                    "renewalOrder": bool,
                    "lineItem": list,
                    "lineItem[].doc.documentType": str,
                    "lineItem[].doc.title": str,
                    "lineItem[].quantity": "number",
                },
                {"billingInstrument.displayName": str},
            ),
        },
    ),
    # Subscriptions [TAKEOUT: ALEAPP reads doc, renewalDate, state, pricing[0].price/.period;
    # a parser's fixture has expirationDate].
    "play.subscriptions": Group(
        PLAY,
        {
            "Google Play Store/Subscriptions.json": play(
                "subscription",
                {
                    **DOC,
                    "state": str,
                    "pricing": list,
                    "pricing[].price": str,
                    "pricing[].period.unit": str,
                    "pricing[].period.count": "number",
                },
                {"renewalDate": "timestamp", "expirationDate": "timestamp"},
            )
        },
    ),
    # Devices [TAKEOUT: ALEAPP reads every key without .get; totalMemoryBytes a numeric string].
    "play.devices": Group(
        PLAY,
        {
            "Google Play Store/Devices.json": play(
                "device",
                {
                    "mostRecentData.carrierName": str,
                    "mostRecentData.manufacturer": str,
                    "mostRecentData.modelName": str,
                    "mostRecentData.deviceName": str,
                    "mostRecentData.productName": str,
                    "mostRecentData.totalMemoryBytes": str,
                    "mostRecentData.deviceIpCountry": str,
                    "mostRecentData.androidSdkVersion": (int, str),
                    "deviceRegistrationTime": "timestamp",
                    "userAddedOnDeviceTime": "timestamp",
                    "lastTimeDeviceActive": "timestamp",
                },
            )
        },
    ),
    # Redemptions [DOC: all nine fields; acquisition absent for money, billingCountry only with a
    # billing instrument]; file name from google_takeout_parser; wrapper key GUESS.
    "play.redemptions": Group(
        PLAY,
        {
            "Google Play Store/Redemption History.json": play(
                "redemptionHistory",
                {
                    "device": dict,
                    "userCountry": str,
                    "ipCountry": str,
                    "status": str,
                    "redemptionChangeTime": "timestamp",
                },
                {
                    "acquisition": dict,
                    "billingCountry": str,
                    "formattedMoney": str,
                    "moneyExpiredTime": str,
                },
            )
        },
    ),
    # Promotions: file name from google_takeout_parser; wrapper and fields GUESS.
    "play.promotions": Group(
        PLAY,
        {
            "Google Play Store/Promotion History.json": play(
                "promotionHistory", {"acceptedTime": "timestamp"}
            )
        },
    ),
    # Play Points: GUESS (no file known).
    "play.playpoints": Group(
        PLAY,
        {
            "Google Play Store/Play Points History.json": play(
                "playPointsHistory",
                {"transactionTime": "timestamp", "points": int},
            )
        },
    ),
    # Grouping tags: GUESS (no file known; the tag after the Play Grouping API's Tag).
    "play.grouping": Group(
        PLAY,
        {
            "Google Play Store/Grouping Tags.json": play(
                "groupingTag", {"packageName": str, "tag.key": str}
            )
        },
    ),
    # User settings: GUESS (a dashboard parser looks for `Play Settings.json`).
    "play.usersettings": Group(
        PLAY,
        {
            "Google Play Store/Play Settings.json": play(
                "userSetting", {"name": str, "value": str}
            )
        },
    ),
    # Camera events [DOC: JSON, MP4, JPG; no fields]: GUESS layout beside Takeout's camera folders.
    "nest.camera_event": Group(
        NEST,
        {
            "Nest/camera/*/events/events.json": Json(
                {"eventId": str, "eventType": str, "startTime": "timestamp"},
                {"snapshot": str, "clip": str},
            ),
            "Nest/camera/*/events/*.jpg": Media("jpeg"),
            "Nest/camera/*/events/*.mp4": Media("mp4"),
        },
    ),
    # Camera video [DOC: MP4 only]; Takeout's `camera/<CAMERA_ID>/video/<YYYY-MM-DD>/…mp4`.
    "nest.camera_video": Group(NEST, {"Nest/camera/*/video/*/*.mp4": Media("mp4")}),
    # Camera features [DOC: JSON; "max zooming, media quality, and night vision"]: GUESS.
    "nest.camera_feature": Group(
        NEST, {"Nest/camera/*/features.json": Json({"cameraId": str, "updateTime": "timestamp"})}
    ),
    # Nest Store [DOC: JSON; payment details, contact, orders, subscriptions]: GUESS.
    "nest.store": Group(
        NEST,
        {
            "Nest/store/orders.json": Json({"orderId": str, "items": list}),
            "Nest/store/subscriptions.json": Json({"name": str, "status": str}),
            "Nest/store/payment_methods.json": Json({"displayName": str}),
        },
    ),
    # Nest user [DOC: JSON; name, email, profile picture, homes, devices]: GUESS, one object whose
    # `devices` list holds the records.
    "nest.user": Group(
        NEST,
        {"Nest/user.json": Json({"deviceId": str, "type": str}, records=("devices",))},
    ),
    # Reviews [DOC: "Product Reviews data" and "Merchant Reviews data", CSV]; folders as Takeout.
    "shopping.reviews": Group(
        SHOPPING,
        {
            "Google Shopping/Product Reviews/Product Reviews.csv": Csv(
                ["creation_time", "title", "comment", "rating"],
                {"creation_time": "timestamp", "rating": "int"},
            ),
            "Google Shopping/Merchant Reviews/Merchant Reviews.csv": Csv(
                ["creation_time", "comment", "rating"],
                {"creation_time": "timestamp", "rating": "int"},
            ),
        },
    ),
    # Addresses ["name, address, and phone number"; no format]: GUESS CSV in Takeout's folder.
    "shopping.addresses": Group(
        SHOPPING,
        {
            "Google Shopping/Addresses/Addresses.csv": Csv(
                ["name", "street_address", "city", "postal_code", "country_code", "phone_number"]
            )
        },
    ),
    # Purchases [DOC: customer.email, merchantOrderId, creationTime, orderStatus,
    # transactionMerchant.name, lineItem, with the page's example values]; one object per file.
    # Reservations [TAKEOUT: uniqueId, lastModifiedTime, booking.{…}; RFC 3339 with an offset].
    "order_reserve.purchases_reservations": Group(
        MY_ORDERS,
        {
            "Purchases & Reservations/Purchases/order_*.json": Json(
                {
                    "customer.email": str,
                    "merchantOrderId": str,
                    "creationTime.usecSinceEpochUtc": str,
                    "creationTime.granularity": str,
                    "orderStatus.status": str,
                    "orderStatus.label": str,
                    "transactionMerchant.name": str,
                    "lineItem": list,
                    "lineItem[].provider.name": str,
                    "lineItem[].priceline[].type": str,
                    "lineItem[].priceline[].amount.amountMicros": str,
                    "lineItem[].priceline[].amount.currencyCode.code": str,
                    "lineItem[].priceline[].taxIncluded": bool,
                    "lineItem[].priceline[].state": str,
                    "lineItem[].purchase.status": str,
                    "lineItem[].purchase.quantity": "number",
                    "lineItem[].purchase.fulfillment.type": str,
                    "lineItem[].purchase.fulfillment.recipient.displayName": str,
                    "lineItem[].purchase.fulfillment.recipient.email": str,
                    "lineItem[].purchase.fulfillment.recipient.firstName": str,
                    "lineItem[].purchase.fulfillment.recipient.lastName": str,
                    "lineItem[].purchase.fulfillment.timeWindow.startTime.usecSinceEpochUtc": str,
                    "lineItem[].purchase.itemOption": list,
                    "lineItem[].purchase.productInfo.name": str,
                    "lineItem[].purchase.userVisibleStatusLabel": str,
                    "lineItem[].statusLabel": str,
                    "priceline[].type": str,
                    "priceline[].amount.amountMicros": str,
                    # A parser of real exports reads it.
                    "lineItem[].purchase.unitPrice.displayString": str,
                },
                # One record per file: optional fields cannot be asked for here.
                records=None,
            ),
            "Purchases & Reservations/Reservations/action_*.json": Json(
                {
                    "uniqueId": str,
                    "lastModifiedTime": "timestamp",
                    "booking.name": str,
                    "booking.merchantName": str,
                    "booking.startTime": "timestamp",
                    "booking.endTime": "timestamp",
                    "booking.partySize": int,
                    "booking.service": str,
                    "booking.address": str,
                },
                records=None,
            ),
        },
    ),
    # Pixel ["usage and diagnostic data"; no format, no fields]: GUESS.
    "pixel.device_data": Group(
        PIXEL, {"Pixel/device_data.json": Json({"time": "timestamp", "device.model": str})}
    ),
}
