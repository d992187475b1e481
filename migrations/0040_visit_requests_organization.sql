-- Directors list their organization's visit requests.
create index ix_visit_requests_organization on visit_requests (organization_id, created_at);
