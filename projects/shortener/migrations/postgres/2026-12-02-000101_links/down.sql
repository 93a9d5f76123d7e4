DROP TABLE visitor_salts;
DROP TABLE visitors;
DROP TABLE visit_counts;
DROP TABLE links;
DROP TABLE api_keys;
