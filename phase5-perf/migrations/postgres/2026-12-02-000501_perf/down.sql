DROP TABLE sent_emails;
DROP TABLE jobs;
DROP TABLE sales;
DROP TABLE listings;
