-- Two users of "Notes" and their data. Load it after schema.sql (which empties the tables).
-- alice (subject u-1001) is the one whose data the example exports; bob (u-1002) is there to
-- show that nothing of his leaves with hers.

INSERT INTO users (subject, display_name) VALUES
    ('u-1001', 'Alice Martin'),
    ('u-1002', 'Bob Okafor');

INSERT INTO notes (owner, title, body, tags, price, created_at) VALUES
    ('u-1001', 'Packing list for Lisbon',
     'Passport, charger, sun cream. Book the airport bus!',
     '["travel"]', NULL, '2024-03-14 09:12:00+00'),
    ('u-1001', 'Beach at sunset',
     'Carcavelos, 21:40. The water was colder than it looks.',
     '["travel", "photos"]', NULL, '2024-07-21 21:45:30+02'),
    ('u-1002', 'Bike repair',
     'New chain and brake pads at Velo Fix.',
     '["bike", "receipts"]', 35.00, '2024-05-02 17:05:00+00'),
    ('u-1001', 'Weekly groceries',
     E'Milk, eggs, bread\n"good" coffee beans, not the cheap ones',
     '["shopping"]', 42.80, '2025-01-11 10:03:00+00'),
    ('u-1001', 'Untitled',
     NULL,
     NULL, NULL, '2025-02-02 23:59:59.5+00'),
    ('u-1002', 'Team meeting',
     E'Q2 plan: ship the export, then the importer.\nOwner: Bob',
     '["work"]', NULL, '2025-03-18 14:30:00+01'),
    ('u-1001', 'Tomatoes are in',
     'First harvest: 14 tomatoes, café-style salad tonight.',
     '["garden", "photos"]', NULL, '2025-06-30 18:20:00+02'),
    ('u-1001', 'New running shoes',
     'Size 39, the blue ones.',
     '["shopping", "sport"]', 119.99, '2025-09-05 08:00:00+00'),
    ('u-1002', 'Surprise party for Alice',
     'Do NOT tell Alice. Cake from the bakery on Rua Augusta.',
     '["private"]', 60.50, '2025-10-01 12:00:00+00');

-- One row per file under photos/<owner>/.
INSERT INTO photos (note_id, owner, file_name, taken_at)
SELECT n.id, n.owner, p.file_name, p.taken_at::timestamptz
FROM (VALUES
        ('u-1001', 'Beach at sunset',  '2024/beach-sunset.jpg',     '2024-07-21 21:40:00+02'),
        ('u-1001', 'Weekly groceries', '2025/shopping-receipt.jpg', '2025-01-11 09:58:00+00'),
        ('u-1001', 'Tomatoes are in',  '2025/garden/tomatoes.jpg',  NULL),
        ('u-1002', 'Bike repair',      '2024/bike.jpg',             '2024-05-02 17:01:00+00'),
        ('u-1002', 'Team meeting',     '2025/whiteboard.jpg',       '2025-03-18 15:10:00+01')
     ) AS p (owner, title, file_name, taken_at)
JOIN notes n ON n.owner = p.owner AND n.title = p.title;
