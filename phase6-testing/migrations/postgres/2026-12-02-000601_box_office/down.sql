DROP TABLE bookings;
DROP TABLE events;
