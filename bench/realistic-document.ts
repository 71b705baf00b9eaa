/** The realistic handler's answer: ~2 KB of JSON built per request. */
const CATALOGUE = Array.from({ length: 20 }, (_, i) => ({
  sku: `SKU-${1000 + i}`,
  name: `Catalogue item number ${i}`,
  price: Math.round((9.99 + i * 1.5) * 100) / 100,
  tags: ['new', 'sale'].slice(0, 1 + (i % 2)),
}));

export function document(id: string): unknown {
  let total = 0;
  const items = CATALOGUE.map((item, i) => {
    const quantity = 1 + ((i + id.length) % 3);
    total += item.price * quantity;
    return { ...item, quantity };
  });
  return { user: { id, name: 'Ada Lovelace', email: 'ada@example.com' }, items, total: Math.round(total * 100) / 100, currency: 'EUR' };
}
