"""YouTube and YouTube Music: https://developers.google.com/data-portability/schema-reference/youtube

Only the page's first part could be read (the objects "video media", original format or MP4,
and "videos", CSV). The other files are Takeout's, which the product's archive shares, as
open-source importers read real exports: CSV with Title-Case headers below
``YouTube and YouTube Music/``, times like ``2023-07-17T17:52:49+00:00``, and user text
(comments, live chat, posts) as comma-separated JSON segments ``{"text":…}``.

Several groups write the same file (the three ``*_videos`` groups ``video metadata/videos.csv``,
the three ``*_playlists`` groups ``playlists/playlists.csv``); the archive numbers the later ones
``videos(1).csv`` as Google does, hence the globs.

Not documented anywhere readable: ``youtube.clips``, ``youtube.conversations``,
``youtube.playable`` (plausible CSV files in a folder of their own) and, but for one importer's
fixture, ``youtube.shopping``. Their expectations only say that the file is there and is CSV.
"""

from . import PAGE, Csv, Group, Media

PAGE_URL = PAGE + "youtube"
ROOT = "YouTube and YouTube Music/"

# Takeout's videos.csv (immich-go's struct, a Dutch export): the page's "videos" fields in this
# order, tags numbered as the data needs (here up to three).
VIDEOS = Csv(
    [
        "Video ID",
        "Approx Duration (ms)",
        "Video Audio Language",
        "Video Category",
        "Video Description (Original)",
        "Channel ID",
        "Tag 1",
        "Tag 2",
        "Tag 3",
        "Video Title (Original)",
        "Privacy",
        "Video State",
        "Video Create Timestamp",
        "Video Publish Timestamp",
    ],
    {
        "Approx Duration (ms)": "int",
        "Video Create Timestamp": "timestamp",
        "Video Publish Timestamp": "timestamp",
    },
)


def videos() -> Group:
    return Group(
        PAGE_URL,
        {
            ROOT + "videos/*.mp4": Media("mp4"),
            ROOT + "video metadata/videos*.csv": VIDEOS,
        },
    )


# playlists.csv, the Title-Case 8-column form (immich-go, donation parsers), and one
# `<title>-videos.csv` per playlist.
PLAYLISTS = Csv(
    [
        "Playlist ID",
        "Add new videos to top",
        "Playlist Title (Original)",
        "Playlist Title (Original) Language",
        "Playlist Create Timestamp",
        "Playlist Update Timestamp",
        "Playlist Video Order",
        "Playlist Visibility",
    ],
    {
        "Add new videos to top": "bool",
        "Playlist Create Timestamp": "timestamp",
        "Playlist Update Timestamp": "timestamp",
    },
)
PLAYLIST_VIDEOS = Csv(
    ["Video ID", "Playlist Video Creation Timestamp"],
    {"Playlist Video Creation Timestamp": "timestamp"},
)


def playlists() -> Group:
    return Group(
        PAGE_URL,
        {
            ROOT + "playlists/playlists*.csv": PLAYLISTS,
            ROOT + "playlists/*-videos*.csv": PLAYLIST_VIDEOS,
        },
    )


CHANNEL_ID = Csv(["Channel ID"])

GROUPS = {
    # Takeout: channels/ (donation parsers, a Takeout manager's "as Google Takeout writes it"
    # fixture, with `Channel Country`); page settings and community moderation settings are
    # known to hold `Channel ID` only; the English header of channel images.csv is a guess from
    # a Portuguese export.
    "youtube.channel": Group(
        PAGE_URL,
        {
            ROOT + "channels/channel.csv": Csv(
                [
                    "Channel ID",
                    "Channel Country",
                    "Channel Description (Original)",
                    "Channel Tag 1",
                    "Channel Tag 2",
                    "Channel Title (Original)",
                    "Channel Visibility",
                ]
            ),
            ROOT + "channels/channel URL configs.csv": Csv(
                ["Channel ID", "Channel Vanity URL 1 Name", "Channel Vanity URL 2 Name"]
            ),
            ROOT + "channels/channel feature data.csv": Csv(
                [
                    "Channel ID",
                    "Channel Auto Moderation in Live Chat",
                    "Video Default Allowed Comments Type",
                    "Video Default Targeted Audience",
                    "Video Default License",
                    "Video Default Location Latitude",
                    "Video Default Location Longitude",
                ],
                {
                    "Channel Auto Moderation in Live Chat": "bool",
                    "Video Default Location Latitude": "float",
                    "Video Default Location Longitude": "float",
                },
            ),
            ROOT + "channels/channel page settings.csv": CHANNEL_ID,
            ROOT + "channels/channel community moderation settings.csv": CHANNEL_ID,
            ROOT + "channels/channel images.csv": Csv(
                ["Channel ID", "Create Timestamp", "Channel Image Full Content URL"],
                {"Create Timestamp": "timestamp", "Channel Image Full Content URL": "url"},
            ),
        },
    ),
    # Not documented.
    "youtube.clips": Group(
        PAGE_URL,
        {
            ROOT + "clips/clips.csv": Csv(
                [
                    "Clip ID",
                    "Video ID",
                    "Clip Title",
                    "Clip Start Time (ms)",
                    "Clip End Time (ms)",
                    "Clip Create Timestamp",
                ]
            )
        },
    ),
    # Takeout: the 9-column comments.csv of today's exports.
    "youtube.comments": Group(
        PAGE_URL,
        {
            ROOT + "comments/comments*.csv": Csv(
                [
                    "Comment ID",
                    "Channel ID",
                    "Comment Create Timestamp",
                    "Price",
                    "Parent Comment ID",
                    "Post ID",
                    "Video ID",
                    "Comment Text",
                    "Top-Level Comment ID",
                ],
                {"Comment Create Timestamp": "timestamp", "Price": "float"},
            )
        },
    ),
    # Not documented.
    "youtube.conversations": Group(
        PAGE_URL,
        {
            ROOT + "conversations/conversations.csv": Csv(
                [
                    "Conversation ID",
                    "Message ID",
                    "Sender Channel ID",
                    "Message Create Timestamp",
                    "Video ID",
                    "Message Text",
                ]
            )
        },
    ),
    # Takeout: live chats.csv in its newer 7-column form, `Price` in micros of `Currency code`.
    "youtube.live_chat": Group(
        PAGE_URL,
        {
            ROOT + "live chats/live chats*.csv": Csv(
                [
                    "Live Chat ID",
                    "Channel ID",
                    "Live Chat Create Timestamp",
                    "Price",
                    "Currency code",
                    "Video ID",
                    "Live Chat Text",
                ],
                {"Live Chat Create Timestamp": "timestamp", "Price": "int"},
            )
        },
    ),
    # Takeout: `music (library and uploads)/` (youtube-music-takeout-organizer and others), the
    # uploaded audio files beside the uploads metadata.
    "youtube.music": Group(
        PAGE_URL,
        {
            ROOT + "music (library and uploads)/music library songs.csv": Csv(
                ["Video ID", "Song Title", "Album Title", "Artist Name 1", "Artist Name 2"]
            ),
            ROOT + "music (library and uploads)/music uploads metadata.csv": Csv(
                ["Song Title", "Album Title", "Artist Name 1", "Duration"]
            ),
            ROOT + "music (library and uploads)/*.mp3": Media("mp3"),
        },
    ),
    # Not documented.
    "youtube.playable": Group(
        PAGE_URL,
        {
            ROOT + "playables/playable saves.csv": Csv(
                ["Playable ID", "Playable Title", "Save Data Update Timestamp", "Save Data"],
                {"Save Data Update Timestamp": "timestamp"},
            )
        },
    ),
    # Takeout, as an importer's fixtures show it: posts.csv (only these columns are known in
    # English) and `<Post ID>_image.<ext>` beside it.
    "youtube.posts": Group(
        PAGE_URL,
        {
            ROOT + "posts/posts.csv": Csv(["Post ID", "Post text", "Image name 1"]),
            ROOT + "posts/*_image.jpg": Media("jpeg"),
        },
    ),
    "youtube.private_playlists": playlists(),
    "youtube.private_videos": videos(),
    "youtube.public_playlists": playlists(),
    "youtube.public_videos": videos(),
    # Not documented on the page; one importer's fixture shows shopping-collections/ with
    # `<title>-items.csv` and `<title>-thumbnail.jpg` beside the listing.
    "youtube.shopping": Group(
        PAGE_URL,
        {
            ROOT + "shopping-collections/shopping-collections.csv": Csv(
                ["Shopping Collection ID", "Shopping Collection Title", "Shopping Collection Description"]
            ),
            ROOT + "shopping-collections/*-items*.csv": Csv(
                ["Shopping Collection ID", "Product ID", "Product Title", "Item Create Timestamp"],
                {"Item Create Timestamp": "timestamp"},
            ),
            ROOT + "shopping-collections/*-thumbnail*.jpg": Media("jpeg"),
        },
    ),
    # Takeout: subscriptions.csv with its `Id`/`Url` spelling.
    "youtube.subscriptions": Group(
        PAGE_URL,
        {
            ROOT + "subscriptions/subscriptions*.csv": Csv(
                ["Channel Id", "Channel Url", "Channel Title"], {"Channel Url": "url"}
            )
        },
    ),
    "youtube.unlisted_playlists": playlists(),
    "youtube.unlisted_videos": videos(),
}
