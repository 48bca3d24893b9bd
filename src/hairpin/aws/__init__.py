"""AWS's part of the data path: the VPC router and the Network Load Balancer (``nlb``, ``vpc``), how the
AWS Load Balancer Controller turns Service annotations into load balancer settings (``controller``),
and the closed-form risk of a hairpin (``risk``)."""
