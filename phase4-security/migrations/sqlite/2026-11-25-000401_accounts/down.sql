DROP TABLE orders;
DROP TABLE authorization_codes;
DROP TABLE refresh_tokens;
DROP TABLE users;
