"""The inventory service: owns stock levels and holds or releases stock for the saga's orders."""
