-- What STATS19 casualty and vehicle rows share (both belong to a collision): the collision keys cast once,
-- the force of the row's collision (stats19_collision_forces, built by int_stats19_collision_forces.sql) and
-- the reason a row cannot be attributed to a collision (collision_reject_reason). The loader puts this text
-- before stg_stats19_casualties.sql or stg_stats19_vehicles.sql (etl/sources/stats19.py, staging_sql);
-- each model's own raw columns pass through under their published names.
with

source as (
    select * from raw_stats19_children
),

codes as (
    select * from stats19_codes
),

collision_forces as (
    select * from stats19_collision_forces
),

members as (
    select
        source.* exclude (collision_index, collision_year, vehicle_reference),
        nullif(source.collision_index, '')                   as collision_index,
        try_cast(source.collision_year as integer)           as collision_year,
        source.vehicle_reference                             as vehicle_reference_text,
        try_cast(source.vehicle_reference as integer)        as vehicle_reference,
        collision_forces.force_id,
        coalesce(collision_forces.in_scope, true)            as in_scope,
        case
            when nullif(source.collision_index, '') is null
                then 'collision_index (accident_index) is empty'
            else collision_forces.force_reject_reason
        end                                                  as collision_reject_reason
    from source
    left join collision_forces on collision_forces.collision_index = nullif(source.collision_index, '')
),
