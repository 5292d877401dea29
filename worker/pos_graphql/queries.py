"""The worker's GraphQL documents: every type and field it relies on is named here, and nowhere else, so the
start-up check (:mod:`.schema_check`) validates exactly these against the server's schema. The names follow the
ASSUMED schema (``emulator/pos/graphql/schema.graphql``)."""

from __future__ import annotations

ENVIRONMENT = """
query Environment {
  environment { id name apiVersion currency timezone }
}
"""

SALE_HISTORY = """
query SaleHistory($since: DateTime!, $until: DateTime!, $first: Int, $after: String) {
  sale(since: $since, until: $until, first: $first, after: $after) {
    nodes {
      id number status createdAt modifiedAt currency locationId customerId
      shippingAddress { firstName lastName line1 line2 city region postalCode country }
      lines {
        id itemId sku description quantity unitPrice subtotal discount tax taxRate total fulfillment
        returnOf { saleId lineId }
        returnReason
      }
      payments { id method amount cardBrand cardLast4 walletType reference approved }
      subtotal discountTotal taxTotal total
    }
    pageInfo { hasNextPage endCursor }
  }
}
"""

CUSTOMER = """
query Customer($id: ID!) {
  customer(id: $id) { id email firstName lastName phone }
}
"""

LOCATION = """
query Location($id: ID!) {
  location(id: $id) { id code name }
}
"""

# operation name -> document; the schema check validates each.
DOCUMENTS = {"Environment": ENVIRONMENT, "SaleHistory": SALE_HISTORY, "Customer": CUSTOMER, "Location": LOCATION}

# The leaf types the worker's reading of the answers relies on, per operation and field path; every other leaf
# it selects is expected to be an ID or a String. ``enum``: any enum (the mapping reads its value names).
LEAF_TYPES: dict[str, dict[str, str]] = {
    "SaleHistory": {
        "sale.nodes.status": "enum", "sale.nodes.createdAt": "DateTime", "sale.nodes.modifiedAt": "DateTime",
        "sale.nodes.lines.quantity": "Int", "sale.nodes.lines.unitPrice": "Money",
        "sale.nodes.lines.subtotal": "Money", "sale.nodes.lines.discount": "Money", "sale.nodes.lines.tax": "Money",
        "sale.nodes.lines.taxRate": "Float", "sale.nodes.lines.total": "Money", "sale.nodes.lines.fulfillment": "enum",
        "sale.nodes.payments.method": "enum", "sale.nodes.payments.amount": "Money",
        "sale.nodes.payments.approved": "Boolean", "sale.nodes.subtotal": "Money", "sale.nodes.discountTotal": "Money",
        "sale.nodes.taxTotal": "Money", "sale.nodes.total": "Money", "sale.pageInfo.hasNextPage": "Boolean",
    },
}
STRING_LEAVES = frozenset({"ID", "String"})
