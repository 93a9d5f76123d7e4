-- The shop: a catalogue, carts and orders. Money is an integer of minor units beside an ISO 4217
-- code; times are Unix seconds. `users` is phase 4's, `jobs` phase 5's.

CREATE TABLE categories (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL
);

CREATE TABLE products (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    -- Every variant of a product is priced in its currency.
    currency TEXT NOT NULL CHECK (currency IN ('EUR', 'USD', 'JPY')),
    created_at BIGINT NOT NULL
);

-- Many to many: a product in several categories, a category of many products.
CREATE TABLE product_categories (
    product_id INTEGER NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    category_id INTEGER NOT NULL REFERENCES categories (id) ON DELETE CASCADE,
    PRIMARY KEY (product_id, category_id)
);
CREATE INDEX product_categories_category ON product_categories (category_id, product_id);

CREATE TABLE product_images (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    product_id INTEGER NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    position INTEGER NOT NULL
);
CREATE INDEX product_images_product ON product_images (product_id, position);

-- What is sold: a SKU with its attributes (a JSON object of strings: size, colour), a price in
-- the product's currency, and the units that can still be sold. A reservation takes units; an
-- expiry, a cancellation or a refund puts them back. The CHECK is the last line against
-- overselling: no transaction can commit a negative stock.
CREATE TABLE variants (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    product_id INTEGER NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    sku TEXT NOT NULL UNIQUE,
    attributes TEXT NOT NULL DEFAULT '{}',
    price_minor BIGINT NOT NULL CHECK (price_minor >= 0),
    stock INTEGER NOT NULL CHECK (stock >= 0)
);
CREATE INDEX variants_product ON variants (product_id, id);

CREATE TABLE carts (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    owner_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL
);

CREATE TABLE cart_items (
    cart_id INTEGER NOT NULL REFERENCES carts (id) ON DELETE CASCADE,
    variant_id INTEGER NOT NULL REFERENCES variants (id) ON DELETE CASCADE,
    quantity INTEGER NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (cart_id, variant_id)
);

-- `orders` is phase 4's (books); these are the shop's.
CREATE TABLE shop_orders (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    owner_id INTEGER NOT NULL REFERENCES users (id),
    status TEXT NOT NULL CHECK (status IN ('pending', 'paid', 'fulfilled', 'cancelled', 'refunded')),
    -- Where the confirmation goes.
    email TEXT NOT NULL,
    currency TEXT NOT NULL,
    total_minor BIGINT NOT NULL,
    refunded_minor BIGINT NOT NULL DEFAULT 0,
    -- A pending order holds its stock until then.
    reserved_until BIGINT NOT NULL,
    -- Stripe's PaymentIntent, once one is made.
    payment_intent TEXT UNIQUE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX shop_orders_owner ON shop_orders (owner_id, id);
CREATE INDEX shop_orders_expiring ON shop_orders (status, reserved_until);

-- A line copies the name and the price at the moment of the order: a later price change does not
-- touch what was bought.
CREATE TABLE order_lines (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    order_id INTEGER NOT NULL REFERENCES shop_orders (id) ON DELETE CASCADE,
    variant_id INTEGER NOT NULL REFERENCES variants (id),
    sku TEXT NOT NULL,
    name TEXT NOT NULL,
    unit_price_minor BIGINT NOT NULL,
    quantity INTEGER NOT NULL CHECK (quantity > 0),
    refunded INTEGER NOT NULL DEFAULT 0 CHECK (refunded >= 0 AND refunded <= quantity)
);
CREATE INDEX order_lines_order ON order_lines (order_id, id);

-- The Stripe events applied: a second delivery of one is acknowledged and changes nothing.
CREATE TABLE stripe_events (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    received_at BIGINT NOT NULL
);
