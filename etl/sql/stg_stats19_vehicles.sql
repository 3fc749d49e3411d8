-- Stage DfT STATS19 vehicle rows: cast and decode; the force comes from the vehicle's collision
-- (stats19_collision_forces, built by int_stats19_collision_forces.sql).
with

source as (
    select * from raw_stats19_vehicle
),

codes as (
    select * from stats19_codes
),

collision_forces as (
    select * from stats19_collision_forces
),

typed as (
    select
        row_ordinal,
        nullif(collision_index, '')                          as collision_index,
        try_cast(collision_year as integer)                  as collision_year,
        vehicle_reference                                    as vehicle_reference_text,
        try_cast(vehicle_reference as integer)               as vehicle_reference,
        vehicle_type                                         as vehicle_type_text,
        try_cast(vehicle_type as integer)                    as vehicle_type_code,
        try_cast(sex_of_driver as integer)                   as sex_code,
        case when try_cast(age_of_driver as integer) >= 0 then try_cast(age_of_driver as integer) end as age_of_driver
    from source
),

decoded as (
    select
        typed.*,
        collision_forces.force_id,
        collision_forces.force_reject_reason,
        coalesce(collision_forces.in_scope, true) as in_scope,
        (select label from codes where variable = 'vehicle_type' and code = typed.vehicle_type_code) as vehicle_type,
        (select label from codes where variable = 'sex_of_driver' and code = typed.sex_code) as sex_of_driver
    from typed
    left join collision_forces on collision_forces.collision_index = typed.collision_index
),

checked as (
    select
        decoded.*,
        case
            when collision_index is null
                then 'collision_index (accident_index) is empty'
            when force_reject_reason is not null
                then force_reject_reason
            when vehicle_reference is null
                then 'vehicle_reference ''' || coalesce(vehicle_reference_text, '') || ''' is not a whole number'
            when vehicle_type_code is null
                then 'vehicle_type ''' || coalesce(vehicle_type_text, '') || ''' is not a DfT vehicle type code'
        end as reject_reason
    from decoded
),

final as (
    select
        collision_index,
        collision_year,
        vehicle_reference,
        vehicle_type_code,
        vehicle_type,
        sex_of_driver,
        age_of_driver,
        force_id,
        row_ordinal,
        reject_reason,
        in_scope
    from checked
)

select * from final
