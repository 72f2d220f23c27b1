"""Word lists for the sample data: brand names and category codes seen in the public
cosmetics-shop logs, Sephora-like categories, and review phrases by sentiment."""

BRANDS = [
    "runail", "irisk", "masura", "grattol", "estel", "ingarden", "cnd", "solomeya",
    "nagaraku", "kapous", "beautix", "freedecor", "babyliss", "concept", "jessnail",
    "lador", "italwax", "cosmoprofi", "airnails", "bpw.style", "art-visage", "pnb",
    "lianail", "lovely", "kaaral", "uno", "haruyama", "bluesky", "domix", "smart",
    "kinetics", "shik", "zinger", "yoko", "milv", "entity", "severina", "strong",
    "metzger", "benovy", "levrana", "ecolab", "f.o.x", "marathon", "roubloff", "emil",
]  # fmt: skip

CATEGORY_CODES = [
    "appliances.environment.vacuum", "furniture.bathroom.bath",
    "appliances.personal.hair_cutter", "accessories.bag", "apparel.glove",
    "stationery.cartrige", "accessories.cosmetic_bag", "furniture.living_room.cabinet",
    "appliances.environment.air_conditioner", "sport.diving",
]  # fmt: skip

SEPHORA_CATEGORIES = [
    ("Skincare", "Moisturizers", "Moisturizers"),
    ("Skincare", "Cleansers", "Face Wash & Cleansers"),
    ("Skincare", "Treatments", "Face Serums"),
    ("Skincare", "Eye Care", "Eye Creams & Treatments"),
    ("Skincare", "Masks", "Face Masks"),
    ("Makeup", "Face", "Foundation"),
    ("Makeup", "Eye", "Mascara"),
    ("Makeup", "Lip", "Lipstick"),
    ("Makeup", "Nail", "Nail Polish"),
    ("Hair", "Shampoo & Conditioner", "Shampoo"),
    ("Hair", "Treatments", "Hair Oil"),
    ("Fragrance", "Women", "Perfume"),
    ("Tools & Brushes", "Brushes & Applicators", "Face Brushes"),
    ("Bath & Body", "Body Moisturizers", "Body Lotions & Body Oils"),
]

PRODUCT_WORDS = [
    "Hydrating", "Glow", "Velvet", "Silk", "Ultra", "Daily", "Radiant", "Pure", "Deep",
    "Soft", "Matte", "Dewy", "Calming", "Repair", "Vitamin C", "Retinol", "Rose",
    "Green Tea", "Peptide", "Ceramide", "Clarifying", "Brightening", "Overnight",
]  # fmt: skip

PRODUCT_NOUNS = [
    "Moisturizer", "Cleanser", "Serum", "Eye Cream", "Face Mask", "Foundation",
    "Mascara", "Lipstick", "Nail Polish", "Shampoo", "Hair Oil", "Perfume", "Brush",
    "Body Lotion", "Toner", "Primer", "Gel Polish", "Top Coat",
]  # fmt: skip

POSITIVE_PHRASES = [
    "I love this product.",
    "My skin feels so soft and hydrated.",
    "Absolutely amazing, highly recommend it!",
    "This is the best serum I have ever used.",
    "Great texture and it absorbs quickly.",
    "Works wonderfully and smells lovely.",
    "I am obsessed, my skin looks brighter and smoother.",
    "Perfect for my dry skin, will buy again.",
    "Gentle, effective and worth every penny.",
    "Excellent results after just a week.",
]

NEUTRAL_PHRASES = [
    "It is okay, nothing special.",
    "The texture is fine but I did not notice much difference.",
    "Decent product for the price.",
    "It works sometimes, but the scent is strong.",
    "Average results, I might not repurchase.",
    "Not bad, not great either.",
    "The packaging is nice and the formula is average.",
]

NEGATIVE_PHRASES = [
    "I hate this product.",
    "It broke me out and made my skin worse.",
    "Terrible, a complete waste of money.",
    "Did not work at all, very disappointed.",
    "It irritated my skin and burned.",
    "Awful smell and the texture is sticky.",
    "Never buying this again, the worst purchase.",
    "Not worth the price, it does nothing.",
]

TEXT_NOISE = [
    "Received it complimentary &amp; tried it for 2 weeks.",
    "<br>Update: still using it.",
    "See my routine at http://example.com/routine ❤️",
    "Price was $25 &#8211; fair.",
    "10/10 😍😍",
]

SKIN_TONES = ["fair", "light", "lightMedium", "medium", "mediumTan", "tan", "deep", ""]
EYE_COLORS = ["brown", "blue", "green", "hazel", "gray", ""]
SKIN_TYPES = ["combination", "dry", "normal", "oily", ""]
HAIR_COLORS = ["black", "brown", "blonde", "auburn", "red", "gray", ""]
