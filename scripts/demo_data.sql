-- A demo database shaped like production: a question bank with 50 anchors (tags ["anchor"],
-- known parameters in meta->'irt'), 150 items in all, 500 users and about 12,000 answers in
-- the last 60 days behind an `attempt` view, plus attempts outside the window, NULL answers
-- and retries. Answers follow a 2PL on the anchors' scale with a population of mean 0.3 and
-- sd 1.1, so linking has something to move. Seeded: every run makes the same data.
SELECT setseed(0.42);

CREATE TABLE question (
    id   bigint PRIMARY KEY,
    meta jsonb NOT NULL DEFAULT '{}'
);

CREATE TABLE attempt_log (
    id          bigserial PRIMARY KEY,
    user_id     bigint,
    question_id bigint,
    is_correct  boolean,
    created_at  timestamptz NOT NULL
);

-- True item parameters: a ~ lognormal(0, 0.3), b ~ N(0, 1) (Box–Muller from random()).
CREATE TEMP TABLE demo_truth AS
SELECT q AS id,
       exp(0.3 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())) AS a,
       sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) AS b
FROM generate_series(1, 150) AS q;

INSERT INTO question (id, meta)
SELECT id,
       CASE WHEN id <= 50
            THEN jsonb_build_object('tags', '["anchor"]'::jsonb,
                                    'irt', jsonb_build_object('a', round(a::numeric, 4), 'b', round(b::numeric, 4)))
            ELSE jsonb_build_object('tags', '["practice"]'::jsonb)
       END
FROM demo_truth;

CREATE TEMP TABLE demo_users AS
SELECT u AS user_id, 0.3 + 1.1 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) AS theta
FROM generate_series(1, 500) AS u;

-- Each user answers 24 items at random within the last 55 days.
INSERT INTO attempt_log (user_id, question_id, is_correct, created_at)
SELECT u.user_id, t.id,
       random() < 1 / (1 + exp(-t.a * (u.theta - t.b))),
       now() - random() * interval '55 days'
FROM demo_users u
CROSS JOIN LATERAL (SELECT id, a, b FROM demo_truth ORDER BY random() + u.user_id * 0 LIMIT 24) t;

-- Retries: a second attempt later than the first (the first one counts).
INSERT INTO attempt_log (user_id, question_id, is_correct, created_at)
SELECT user_id, question_id, NOT is_correct, created_at + interval '1 hour'
FROM attempt_log WHERE id % 40 = 0;

-- Answers not yet graded (NULL) and old attempts outside the 60-day window.
INSERT INTO attempt_log (user_id, question_id, is_correct, created_at)
SELECT user_id, question_id, NULL, now() - interval '1 day' FROM attempt_log WHERE id % 97 = 0;
INSERT INTO attempt_log (user_id, question_id, is_correct, created_at)
SELECT user_id, 1 + (id % 150), random() < 0.5, now() - interval '200 days' FROM attempt_log WHERE id % 7 = 0;

-- The production view that pg_irt reads.
CREATE VIEW attempt AS
SELECT user_id, question_id, is_correct AS correct, created_at FROM attempt_log;
