# Write the SQL script of the sqlite workload, as a database dump loads: two tables, ROWS rows
# inserted one INSERT statement each (every statement parsed and prepared on its own, as
# `sqlite3 db < dump.sql` does), two indexes created, then queries: aggregates, a join with
# GROUP BY, ORDER BY on indexed and on unindexed columns, an UPDATE and a DELETE.
#   python3 gen-sql.py ROWS > bench.sql      (run as: sqlite3 -batch :memory: ".read bench.sql")
import random
import sys

rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1000000
random.seed(11)
w = sys.stdout.write
syll = ["ka", "lo", "mi", "ne", "su", "ta", "ri", "po", "ve", "zu", "an", "el", "or", "is"]
w("CREATE TABLE cat(id INTEGER PRIMARY KEY, name TEXT NOT NULL);\n")
for c in range(1, 101):
    w(f"INSERT INTO cat VALUES({c},'{''.join(random.choice(syll) for _ in range(3))}{c}');\n")
w("CREATE TABLE item(id INTEGER PRIMARY KEY, cat INTEGER NOT NULL, name TEXT NOT NULL, "
  "price REAL NOT NULL, note TEXT);\n")
w("BEGIN;\n")
for i in range(1, rows + 1):
    name = "".join(random.choice(syll) for _ in range(random.randint(2, 5)))
    note = " ".join(random.choice(syll) * random.randint(1, 3) for _ in range(random.randint(0, 8)))
    w(f"INSERT INTO item VALUES({i},{random.randint(1, 100)},'{name}',"
      f"{random.randint(1, 1000000) / 100},{('NULL' if not note else repr(note))});\n")
w("COMMIT;\n")
w("""CREATE INDEX item_name ON item(name);
CREATE INDEX item_cat_price ON item(cat, price);
SELECT count(*), round(sum(price), 2), round(avg(length(note)), 4), count(note) FROM item;
SELECT c.name, count(*), round(sum(i.price), 2), round(max(i.price), 2)
  FROM item i JOIN cat c ON c.id = i.cat GROUP BY c.name ORDER BY 2 DESC, 1 LIMIT 12;
SELECT name, count(*) FROM item GROUP BY name ORDER BY 2 DESC, 1 LIMIT 10;
SELECT id, name, price FROM item ORDER BY name, id LIMIT 5 OFFSET 1000;
SELECT id, price FROM item WHERE cat = 42 ORDER BY price DESC LIMIT 5;
SELECT id, note FROM item WHERE note IS NOT NULL ORDER BY note DESC, id LIMIT 5;
SELECT c.id, (SELECT count(*) FROM item i WHERE i.cat = c.id AND i.price < 100)
  FROM cat c ORDER BY 2 DESC, 1 LIMIT 5;
UPDATE item SET note = upper(note) || '!' WHERE id % 10 = 0;
DELETE FROM item WHERE id % 7 = 0;
SELECT count(*), count(DISTINCT name), sum(length(note)) FROM item;
SELECT substr(note, 1, 12), count(*) FROM item WHERE note LIKE '%!' GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 5;
""")
