"""Village points governance (村级事务积分制管理): rules, records, approval, public notice,
objections, the points supermarket and dashboards."""
