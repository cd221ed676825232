-- The review page's wellness settings a reviewer chose for themselves, by token. A NULL column
-- is no override: the deployment's default (`ward serve --review-*`) applies, so a changed
-- default reaches every reviewer who did not pick their own value.
CREATE TABLE review_settings (
    token_id    INTEGER PRIMARY KEY REFERENCES tokens (id),
    blur_px     INTEGER CHECK (blur_px BETWEEN 0 AND 64),
    greyscale   INTEGER CHECK (greyscale IN (0, 1)),
    autoplay    INTEGER CHECK (autoplay IN (0, 1)),
    updated_at  INTEGER NOT NULL
);
