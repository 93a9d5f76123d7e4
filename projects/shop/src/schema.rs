//! The shop's tables, as diesel sees them (`migrations/` makes them; `users` is phase 4's).

diesel::table! {
    categories (id) {
        id -> Integer,
        slug -> Text,
        name -> Text,
    }
}

diesel::table! {
    products (id) {
        id -> Integer,
        slug -> Text,
        name -> Text,
        description -> Text,
        currency -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    product_categories (product_id, category_id) {
        product_id -> Integer,
        category_id -> Integer,
    }
}

diesel::table! {
    product_images (id) {
        id -> Integer,
        product_id -> Integer,
        url -> Text,
        position -> Integer,
    }
}

diesel::table! {
    variants (id) {
        id -> Integer,
        product_id -> Integer,
        sku -> Text,
        attributes -> Text,
        price_minor -> BigInt,
        stock -> Integer,
    }
}

diesel::table! {
    carts (id) {
        id -> Integer,
        owner_id -> Integer,
        created_at -> BigInt,
    }
}

diesel::table! {
    cart_items (cart_id, variant_id) {
        cart_id -> Integer,
        variant_id -> Integer,
        quantity -> Integer,
    }
}

diesel::table! {
    shop_orders (id) {
        id -> Integer,
        owner_id -> Integer,
        status -> Text,
        email -> Text,
        currency -> Text,
        total_minor -> BigInt,
        refunded_minor -> BigInt,
        reserved_until -> BigInt,
        payment_intent -> Nullable<Text>,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    order_lines (id) {
        id -> Integer,
        order_id -> Integer,
        variant_id -> Integer,
        sku -> Text,
        name -> Text,
        unit_price_minor -> BigInt,
        quantity -> Integer,
        refunded -> Integer,
    }
}

diesel::table! {
    stripe_events (id) {
        id -> Text,
        kind -> Text,
        received_at -> BigInt,
    }
}

diesel::joinable!(product_categories -> products (product_id));
diesel::joinable!(product_categories -> categories (category_id));
diesel::joinable!(product_images -> products (product_id));
diesel::joinable!(variants -> products (product_id));
diesel::joinable!(cart_items -> carts (cart_id));
diesel::joinable!(cart_items -> variants (variant_id));
diesel::joinable!(order_lines -> shop_orders (order_id));
diesel::joinable!(order_lines -> variants (variant_id));

diesel::allow_tables_to_appear_in_same_query!(
    categories,
    products,
    product_categories,
    product_images,
    variants,
    carts,
    cart_items,
    shop_orders,
    order_lines,
);
